// VigieChat: see docs/architecture.md. The service is not implemented yet.
