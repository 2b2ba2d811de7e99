import Testing

@testable import RouteSpec

/// Helpers shared by the TOML test files.
enum TOMLTestSupport {
  static func file(_ text: String) -> SourceFile {
    SourceFile(id: FileID(0), path: "test.toml", text: text)
  }

  static func file(bytes: [UInt8]) -> SourceFile {
    SourceFile(id: FileID(0), path: "test.toml", bytes: bytes)
  }

  /// Parses `text`, recording an issue (and returning an empty table) if it does not parse.
  static func parse(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> TOMLTable {
    do {
      return try TOMLParser.parse(file(text))
    } catch {
      Issue.record("unexpected error \(error.code.rawValue): \(error.message)", sourceLocation: sourceLocation)
      return TOMLTable(origin: .root)
    }
  }

  /// The error `text` must produce; nil (with an issue recorded) if it parses.
  static func failure(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> TOMLError? {
    failure(bytes: Array(text.utf8), sourceLocation: sourceLocation)
  }

  static func failure(bytes: [UInt8], sourceLocation: Testing.SourceLocation = #_sourceLocation) -> TOMLError? {
    do {
      _ = try TOMLParser.parse(file(bytes: bytes))
      Issue.record("expected a parse error", sourceLocation: sourceLocation)
      return nil
    } catch {
      return error
    }
  }

  /// The compact tagged JSON of `text`.
  static func json(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String {
    TOMLTaggedJSON.encode(parse(text, sourceLocation: sourceLocation)).serialized()
  }

  /// `line:column` (1-based, characters) of the start of an error's primary span.
  static func position(_ error: TOMLError?, in text: String) -> String {
    guard let error else { return "none" }
    let location = file(text).location(of: error.label.span.start)
    return "\(location.line):\(location.column)"
  }

  /// The source text an error's primary span covers.
  static func covered(_ error: TOMLError?, in text: String) -> String {
    guard let error else { return "" }
    return file(text).text(of: error.label.span)
  }
}
