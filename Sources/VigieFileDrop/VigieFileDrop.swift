// VigieFileDrop: the LAN file drop (FileDropServer.swift); see docs/filedrop.md.
