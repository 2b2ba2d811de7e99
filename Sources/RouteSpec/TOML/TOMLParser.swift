/// Parses TOML 1.0 source into a spanned tree. (Stub: replaced by the real parser.)
public enum TOMLParser {
  /// Parses one file; throws its first syntax error.
  public static func parse(_ file: SourceFile) throws(TOMLError) -> TOMLTable {
    throw TOMLError(.unexpectedToken, "parser not implemented", at: Label(SourceSpan(file: file.id, start: 0, end: 0)))
  }
}
