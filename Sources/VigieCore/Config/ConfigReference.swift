extension VigieConfig { public static func referenceMarkdown() -> String { "" } }
