import Testing

@testable import RouteSpec

/// Runs route-file text through the real TOML parser and the decoder, as `louter check` does.
enum RouteDecoderHarness {
  /// The decoded file, every diagnostic, and the source (for turning spans into positions).
  struct Outcome {
    var syntax: RouteFileSyntax
    var diagnostics: [Diagnostic]
    var file: SourceFile

    /// `line:column` (1-based) of a diagnostic's primary span, or `none`.
    func position(_ diagnostic: Diagnostic?) -> String {
      guard let span = diagnostic?.primary?.span else { return "none" }
      let location = file.location(of: span.start)
      return "\(location.line):\(location.column)"
    }

    /// The source text under a spanned value.
    func text(_ span: SourceSpan?) -> String {
      span.map { file.text(of: $0) } ?? ""
    }

    /// A readable list for failure messages.
    var summary: String {
      diagnostics.map { "\($0.code.rawValue) \(position($0)) \($0.message)" }.joined(separator: "; ")
    }
  }

  static func decode(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Outcome {
    var sources = SourceMap()
    let file = sources.add(path: "a.toml", bytes: Array(text.utf8))
    do {
      let table = try TOMLParser.parse(file)
      let (syntax, diagnostics) = RouteFileDecoder.decode(table, file: file)
      return Outcome(syntax: syntax, diagnostics: diagnostics, file: file)
    } catch {
      // Every fixture here is valid TOML: a syntax error means the fixture itself is wrong.
      Issue.record("TOML error \(error.code.rawValue): \(error.message)", sourceLocation: sourceLocation)
      return Outcome(syntax: RouteFileSyntax(file: file.id), diagnostics: [error.diagnostic], file: file)
    }
  }
}
