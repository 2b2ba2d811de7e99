/// How serious a diagnostic is.
public enum Severity: String, Sendable, Comparable {
  case error
  case warning
  case note

  private var rank: Int {
    switch self {
    case .error: 0
    case .warning: 1
    case .note: 2
    }
  }

  public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// A span with a short message printed under its caret run.
public struct Label: Hashable, Sendable {
  /// Where the label points.
  public let span: SourceSpan
  /// Printed beside the carets; may be empty.
  public let message: String

  /// Creates a label.
  public init(_ span: SourceSpan, _ message: String = "") {
    self.span = span
    self.message = message
  }
}

/// One finding of any stage: parse, decode, compile, route tests or serve.
///
/// Every message comes from the catalogue in `DiagnosticCode`; the code is
/// stable across releases so that operators can grep and suppress by it.
public struct Diagnostic: Hashable, Sendable {
  /// Error, warning or note.
  public let severity: Severity
  /// Stable code such as `L0203`.
  public let code: DiagnosticCode
  /// One line, lowercase, no trailing period.
  public let message: String
  /// The place the diagnostic is about; nil only for findings without a file (a missing folder).
  public let primary: Label?
  /// Other places involved (the first definition of a duplicate, a shadowing route).
  public let secondary: [Label]
  /// Extra lines printed as `= note: ...`.
  public let notes: [String]
  /// How to fix it, printed as `= help: ...`.
  public let help: String?

  /// Creates a diagnostic; severity defaults to the code's own.
  public init(
    _ code: DiagnosticCode,
    _ message: String,
    at primary: Label?,
    secondary: [Label] = [],
    notes: [String] = [],
    help: String? = nil,
    severity: Severity? = nil
  ) {
    self.severity = severity ?? code.defaultSeverity
    self.code = code
    self.message = message
    self.primary = primary
    self.secondary = secondary
    self.notes = notes
    self.help = help
  }

  /// The same diagnostic with another severity (a warning raised to an error in `serve`).
  public func with(severity: Severity) -> Diagnostic {
    Diagnostic(code, message, at: primary, secondary: secondary, notes: notes, help: help, severity: severity)
  }
}

extension [Diagnostic] {
  /// True when any element is an error.
  public var hasErrors: Bool { contains { $0.severity == .error } }

  /// Errors first, then warnings and notes, each group in source order: how `check` prints them.
  public func sortedForDisplay() -> [Diagnostic] {
    let sorted = sortedByLocation()
    return sorted.filter { $0.severity == .error } + sorted.filter { $0.severity != .error }
  }

  /// Sorted by file, then position.
  public func sortedByLocation() -> [Diagnostic] {
    enumerated().sorted { left, right in
      let l = left.element.primary?.span
      let r = right.element.primary?.span
      switch (l, r) {
      case (nil, nil): return left.offset < right.offset
      case (nil, _): return true
      case (_, nil): return false
      case (let l?, let r?):
        if l != r { return l < r }
        return left.offset < right.offset
      }
    }.map(\.element)
  }
}
