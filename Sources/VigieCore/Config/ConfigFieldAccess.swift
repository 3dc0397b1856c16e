extension ConfigField {
  /// The field's value in `root` as a TOML literal, secrets masked.
  public func renderedValue(in root: Root) -> String { literal(root) }
}
