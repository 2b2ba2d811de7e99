/// Parsers for the route language's value formats: durations, sizes, URLs, globs, templates, names.
enum ValueParsers {
  static let durationHelp = "write a number and a unit: \"250ms\", \"5s\", \"2m\", \"1h\" (or combined, \"1m30s\")"

  /// `"250ms"`, `"5s"`, `"2m"`, `"1h"`, or a combination such as `"1m30s"`.
  static func parseDuration(_ text: String) -> DurationValue? {
    var total: Int64 = 0
    var digits = ""
    var unit = ""
    var sawAny = false
    func flush() -> Bool {
      guard let number = Int64(digits), !unit.isEmpty else { return false }
      let scale: Int64
      switch unit {
      case "ms": scale = 1
      case "s": scale = 1000
      case "m": scale = 60_000
      case "h": scale = 3_600_000
      default: return false
      }
      let (product, overflow) = number.multipliedReportingOverflow(by: scale)
      guard !overflow else { return false }
      total += product
      digits = ""
      unit = ""
      sawAny = true
      return true
    }
    for character in text {
      if character.isASCII, character.isNumber {
        if !unit.isEmpty { guard flush() else { return nil } }
        digits.append(character)
      } else if character.isASCII, character.isLetter {
        guard !digits.isEmpty else { return nil }
        unit.append(character)
      } else {
        return nil
      }
    }
    guard flush(), sawAny else { return nil }
    return DurationValue(milliseconds: total)
  }

  static func duration(_ value: TOMLValue, key: String, reader: inout TableReader) -> Spanned<DurationValue>? {
    guard case .string(let text) = value.kind else {
      reader.report(
        Diagnostic(
          .invalidDuration, "expected a duration string for '\(key)', found \(value.typeName)", at: Label(value.span),
          help: durationHelp))
      return nil
    }
    guard let duration = parseDuration(text) else {
      reader.report(
        Diagnostic(
          .invalidDuration, "invalid duration '\(text)' for '\(key)'", at: Label(value.span), help: durationHelp))
      return nil
    }
    return Spanned(duration, value.span)
  }

  static let sizeHelp =
    "write a number and a binary unit: \"512KiB\", \"20MiB\", \"1GiB\" (or a plain integer of bytes)"

  /// `"512KiB"`, `"20MiB"`, `"1GiB"`, `"100B"`.
  static func parseSize(_ text: String) -> Int? {
    let digits = text.prefix { $0.isASCII && $0.isNumber }
    guard let number = Int(digits) else { return nil }
    let scale: Int
    switch text.dropFirst(digits.count) {
    case "", "B": scale = 1
    case "KiB": scale = 1 << 10
    case "MiB": scale = 1 << 20
    case "GiB": scale = 1 << 30
    default: return nil
    }
    let (product, overflow) = number.multipliedReportingOverflow(by: scale)
    return overflow ? nil : product
  }

  static func size(_ value: TOMLValue, key: String, reader: inout TableReader) -> Spanned<Int>? {
    switch value.kind {
    case .integer(let bytes) where bytes >= 0:
      return Spanned(Int(bytes), value.span)
    case .integer(let bytes):
      reader.report(
        Diagnostic(.invalidSize, "invalid size \(bytes) for '\(key)'", at: Label(value.span), help: sizeHelp))
      return nil
    case .string(let text):
      if let bytes = parseSize(text) { return Spanned(bytes, value.span) }
      var help = sizeHelp
      if text.hasSuffix("MB") || text.hasSuffix("KB") || text.hasSuffix("GB") {
        help = "louter sizes use binary units: write \"\(text.dropLast(2))\(text.dropLast().suffix(1))iB\""
      }
      reader.report(Diagnostic(.invalidSize, "invalid size '\(text)' for '\(key)'", at: Label(value.span), help: help))
      return nil
    default:
      reader.report(
        Diagnostic(
          .invalidSize, "expected a size for '\(key)', found \(value.typeName)", at: Label(value.span), help: sizeHelp))
      return nil
    }
  }

  /// An absolute `http://` or `https://` URL with a host and no whitespace.
  static func isValidURL(_ text: String) -> Bool {
    let lowered = text.lowercased()
    let rest: Substring
    if lowered.hasPrefix("https://") {
      rest = text.dropFirst(8)
    } else if lowered.hasPrefix("http://") {
      rest = text.dropFirst(7)
    } else {
      return false
    }
    let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    // `user:pass@host:port`: only the host must be there; a port, when written, must be a number.
    let hostAndPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? authority
    var host = hostAndPort
    if hostAndPort.hasPrefix("[") {
      guard let close = hostAndPort.firstIndex(of: "]") else { return false }
      host = hostAndPort[...close]
      let port = hostAndPort[hostAndPort.index(after: close)...]
      guard port.isEmpty || isPort(port.dropFirst()) && port.hasPrefix(":") else { return false }
    } else if let colon = hostAndPort.firstIndex(of: ":") {
      host = hostAndPort[..<colon]
      guard isPort(hostAndPort[hostAndPort.index(after: colon)...]) else { return false }
    }
    return !host.isEmpty && host != "[]" && !text.contains(where: \.isWhitespace)
  }

  private static func isPort(_ text: Substring) -> Bool {
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text) else { return false }
    return port <= 65535
  }

  /// Why a model glob is not accepted, or nil.
  static func globProblem(_ text: String) -> String? {
    if text.contains(where: \.isWhitespace) { return "model names have no whitespace" }
    for character in ["[", "]", "{", "}", "?"] where text.contains(character) {
      return "'\(character)' is not a wildcard here: only '*' is"
    }
    return nil
  }

  /// RFC 9110 token characters.
  static func isHeaderName(_ name: String) -> Bool {
    !name.isEmpty
      && name.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
          UInt8(ascii: "0")...UInt8(ascii: "9"):
          true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
      }
  }

  static func badHeaderName(_ name: String, at span: SourceSpan) -> Diagnostic {
    Diagnostic(
      .invalidHeaderName, "invalid header name '\(name)'", at: Label(span, "HTTP header names are tokens"),
      help: "use letters, digits and - (e.g. \"x-team\")")
  }

  static func isVariableName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
      return false
    }
    return name.unicodeScalars.allSatisfy {
      $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
    }
  }

  /// `NAME_API_KEY` for a backend called `name`.
  static func variableName(for backend: String) -> String {
    let cleaned = backend.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }
    return String(cleaned) + "_API_KEY"
  }

  /// `NAME` when `text` is exactly `${NAME}`.
  static func wholeVariable(_ text: String) -> String? {
    guard text.hasPrefix("${"), text.hasSuffix("}"), text.count > 3 else { return nil }
    let name = String(text.dropFirst(2).dropLast())
    return isVariableName(name) ? name : nil
  }

  /// `sha256:` followed by 64 lowercase hex digits.
  static func isDigestLine(_ text: String) -> Bool {
    guard text.hasPrefix("sha256:") else { return false }
    let hex = text.dropFirst("sha256:".count)
    return hex.count == 64 && hex.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
  }

  /// Parses `${NAME}` and `${NAME:-fallback}` references in a string.
  static func template(_ text: Spanned<String>, reader: inout TableReader) -> TemplateString? {
    var segments: [TemplateString.Segment] = []
    var literal = ""
    var rest = Substring(text.value)
    while let start = rest.firstRange(of: "${") {
      literal += rest[..<start.lowerBound]
      guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
        reader.report(
          Diagnostic(
            .invalidValue, "unterminated '${' in '\(text.value)'", at: Label(text.span),
            help: "write ${NAME}, or ${NAME:-default} for an optional variable"))
        return nil
      }
      let inner = rest[start.upperBound..<end]
      var name = String(inner)
      var fallback: String?
      if let separator = inner.firstRange(of: ":-") {
        name = String(inner[..<separator.lowerBound])
        fallback = String(inner[separator.upperBound...])
      }
      guard isVariableName(name) else {
        reader.report(
          Diagnostic(
            .invalidValue, "invalid environment variable name '\(name)'", at: Label(text.span),
            help: "use letters, digits and '_', not starting with a digit"))
        return nil
      }
      if !literal.isEmpty {
        segments.append(.literal(literal))
        literal = ""
      }
      segments.append(fallback.map { .optionalVariable(name, fallback: $0) } ?? .variable(name))
      rest = rest[rest.index(after: end)...]
    }
    literal += rest
    if !literal.isEmpty { segments.append(.literal(literal)) }
    return TemplateString(segments: segments)
  }

  /// A TOML number as a double.
  static func number(_ value: TOMLValue) -> Double? {
    switch value.kind {
    case .integer(let number): Double(number)
    case .float(let number) where number.isFinite: number
    default: nil
    }
  }

  /// A list of strings; a single string is accepted as a list of one.
  static func stringList(_ value: TOMLValue, key: String, reader: inout TableReader) -> Spanned<[Spanned<String>]>? {
    switch value.kind {
    case .string(let text):
      if text.isEmpty {
        reader.report(
          Diagnostic(.emptyValue, "'\(key)' in \(reader.context) must not be empty", at: Label(value.span)))
        return nil
      }
      return Spanned([Spanned(text, value.span)], value.span)
    case .array(let values):
      var items: [Spanned<String>] = []
      for element in values {
        guard case .string(let text) = element.kind else {
          reader.wrongType(key, expected: "a list of strings", found: element)
          continue
        }
        if text.isEmpty {
          reader.report(
            Diagnostic(.emptyValue, "'\(key)' in \(reader.context) holds an empty string", at: Label(element.span)))
          continue
        }
        items.append(Spanned(text, element.span))
      }
      return Spanned(items, value.span)
    default:
      reader.wrongType(key, expected: "a list of strings", found: value)
      return nil
    }
  }
}
