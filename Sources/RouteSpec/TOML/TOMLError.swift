/// The first syntax error of one TOML file.
///
/// A TOML file that does not parse has no tree to check further, so the
/// parser stops at its first error; errors of other files are still collected.
public struct TOMLError: Error, Sendable, Equatable {
  /// The catalogue code (L01xx).
  public let code: DiagnosticCode
  /// One line, lowercase, no trailing period.
  public let message: String
  /// Where the error is.
  public let label: Label
  /// Other places involved (the first definition of a duplicated key).
  public let secondary: [Label]
  /// How to fix it.
  public let help: String?

  /// Creates a syntax error.
  public init(_ code: DiagnosticCode, _ message: String, at label: Label, secondary: [Label] = [], help: String? = nil)
  {
    self.code = code
    self.message = message
    self.label = label
    self.secondary = secondary
    self.help = help
  }

  /// The error as a diagnostic.
  public var diagnostic: Diagnostic {
    Diagnostic(code, message, at: label, secondary: secondary, help: help)
  }
}
