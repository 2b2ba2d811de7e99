/// Parses TOML 1.0 source into a spanned tree.
public enum TOMLParser {
  /// Parses one file; throws its first syntax error.
  public static func parse(_ file: SourceFile) throws(TOMLError) -> TOMLTable {
    try file.bytes.withUnsafeBufferPointer { (bytes) throws(TOMLError) -> TOMLTable in
      var reader = TOMLReader(bytes: bytes, file: file.id)
      return try reader.parseDocument()
    }
  }
}

/// ASCII bytes the reader compares against, named once.
enum ASCII {
  static let tab: UInt8 = 0x09
  static let newline: UInt8 = 0x0A
  static let carriageReturn: UInt8 = 0x0D
  static let space: UInt8 = 0x20
  static let quote = UInt8(ascii: "\"")
  static let apostrophe = UInt8(ascii: "'")
  static let hash = UInt8(ascii: "#")
  static let backslash = UInt8(ascii: "\\")
  static let equals = UInt8(ascii: "=")
  static let dot = UInt8(ascii: ".")
  static let comma = UInt8(ascii: ",")
  static let openBracket = UInt8(ascii: "[")
  static let closeBracket = UInt8(ascii: "]")
  static let openBrace = UInt8(ascii: "{")
  static let closeBrace = UInt8(ascii: "}")
  static let plus = UInt8(ascii: "+")
  static let minus = UInt8(ascii: "-")
  static let underscore = UInt8(ascii: "_")
  static let colon = UInt8(ascii: ":")
  static let zero = UInt8(ascii: "0")
  static let nine = UInt8(ascii: "9")

  @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- zero < 10 }

  @inline(__always) static func isBareKey(_ byte: UInt8) -> Bool {
    let lower = byte | 0x20
    return (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || isDigit(byte) || byte == minus
      || byte == underscore
  }

  /// Bytes that may continue a number, boolean, inf or nan token.
  @inline(__always) static func isWordByte(_ byte: UInt8) -> Bool {
    isBareKey(byte) || byte == plus || byte == dot
  }
}

/// The single-pass reader: scans the bytes of one file and feeds the table builder.
///
/// It works on an unsafe buffer of bytes and never on `Character`s, and builds each
/// key and string value as a `String` once, from a slice when it holds no escapes.
struct TOMLReader {
  let bytes: UnsafeBufferPointer<UInt8>
  let end: Int
  let file: FileID
  var pos = 0
  var builder: TOMLTableBuilder
  // Reused between keys and strings so that the common case allocates nothing but the result.
  var keyPath: [TOMLKeySegment] = []
  var scratch: [UInt8] = []

  init(bytes: UnsafeBufferPointer<UInt8>, file: FileID) {
    self.bytes = bytes
    self.end = bytes.count
    self.file = file
    self.builder = TOMLTableBuilder(file: file)
    keyPath.reserveCapacity(8)
  }

  // MARK: Helpers

  @inline(__always) func span(_ start: Int, _ stop: Int) -> SourceSpan {
    SourceSpan(file: file, start: start, end: stop)
  }

  /// The byte at `index`, or 0 past the end (a NUL byte is an error wherever it is read).
  @inline(__always) func byte(at index: Int) -> UInt8 {
    index < end ? bytes[index] : 0
  }

  func error(
    _ code: DiagnosticCode, _ message: String, _ start: Int, _ stop: Int, label: String = "", help: String? = nil
  ) -> TOMLError {
    TOMLError(code, message, at: Label(span(start, stop), label), help: help)
  }

  /// The text of `start..<stop`, which holds only bytes already checked to be valid UTF-8.
  @inline(__always) func text(_ start: Int, _ stop: Int) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
  }

  /// The byte length of the (possibly invalid) scalar starting at `index`, for spans only.
  func scalarLength(at index: Int) -> Int {
    guard index < end else { return 0 }
    let lead = bytes[index]
    let length: Int
    switch lead {
    case 0xC0...0xDF: length = 2
    case 0xE0...0xEF: length = 3
    case 0xF0...0xF7: length = 4
    default: length = 1
    }
    var count = 1
    while count < length, index + count < end, bytes[index + count] & 0xC0 == 0x80 { count += 1 }
    return count
  }

  /// Validates the multi-byte UTF-8 sequence at `index` (lead byte ≥ 0x80) and returns its length.
  func utf8Length(at index: Int) throws(TOMLError) -> Int {
    let lead = bytes[index]
    let length: Int
    var low: UInt8 = 0x80
    var high: UInt8 = 0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0:
      length = 3
      low = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED:
      length = 3
      high = 0x9F
    case 0xF0:
      length = 4
      low = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4:
      length = 4
      high = 0x8F
    default:
      throw invalidUTF8(at: index)
    }
    guard index + length <= end else { throw invalidUTF8(at: index) }
    let second = bytes[index + 1]
    guard second >= low, second <= high else { throw invalidUTF8(at: index) }
    var offset = 2
    while offset < length {
      guard bytes[index + offset] & 0xC0 == 0x80 else { throw invalidUTF8(at: index) }
      offset += 1
    }
    return length
  }

  func invalidUTF8(at index: Int) -> TOMLError {
    error(
      .invalidEncoding, "invalid utf-8 byte 0x\(Self.hex(bytes[index]))", index, index + 1,
      help: "save the file as utf-8")
  }

  static func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
  }

  /// A short description of what is at `index`, for "found ..." in messages.
  func describe(_ index: Int) -> String {
    guard index < end else { return "end of file" }
    let value = bytes[index]
    switch value {
    case ASCII.newline: return "a newline"
    case ASCII.carriageReturn: return "a carriage return"
    case 0x21..<0x7F: return "`" + text(index, index + 1) + "`"
    case ASCII.space: return "a space"
    case ASCII.tab: return "a tab"
    case 0x80...:
      if (try? utf8Length(at: index)) != nil { return "`" + text(index, index + scalarLength(at: index)) + "`" }
      return "byte 0x\(Self.hex(value))"
    default: return "control character 0x\(Self.hex(value))"
    }
  }

  /// The error for an unexpected character at `index`; invalid UTF-8 and control characters get their own code.
  func unexpected(_ index: Int, expected: String, help: String? = nil) -> TOMLError {
    if index < end {
      let value = bytes[index]
      if value >= 0x80, (try? utf8Length(at: index)) == nil { return invalidUTF8(at: index) }
      if (value < 0x20 && value != ASCII.tab && value != ASCII.newline && value != ASCII.carriageReturn)
        || value == 0x7F
      {
        return controlCharacter(at: index, context: "here")
      }
      if value == ASCII.carriageReturn, byte(at: index + 1) != ASCII.newline {
        return bareCarriageReturn(at: index)
      }
    }
    return error(
      .unexpectedToken, "expected \(expected), found \(describe(index))", index, index + scalarLength(at: index),
      help: help)
  }

  func controlCharacter(at index: Int, context: String) -> TOMLError {
    let value = bytes[index]
    let place = context == "here" ? "" : " \(context)"
    return error(
      .invalidEncoding, "control character 0x\(Self.hex(value)) is not allowed\(place)", index, index + 1,
      help: context == "in a string" ? "write it as the escape \\u00\(Self.hex(value))" : nil)
  }

  func bareCarriageReturn(at index: Int) -> TOMLError {
    error(
      .invalidEncoding, "carriage return not followed by a line feed", index, index + 1,
      help: "use LF or CRLF line endings")
  }

  @inline(__always) mutating func skipSpaces() {
    while pos < end, bytes[pos] == ASCII.space || bytes[pos] == ASCII.tab { pos += 1 }
  }

  /// Skips a comment starting at `#`, up to (not including) its line ending.
  mutating func skipComment() throws(TOMLError) {
    pos += 1
    while pos < end {
      let value = bytes[pos]
      if value >= ASCII.space && value < 0x7F || value == ASCII.tab {
        pos += 1
      } else if value >= 0x80 {
        pos += try utf8Length(at: pos)
      } else if value == ASCII.newline {
        return
      } else if value == ASCII.carriageReturn && byte(at: pos + 1) == ASCII.newline {
        return
      } else if value == ASCII.carriageReturn {
        throw bareCarriageReturn(at: pos)
      } else {
        throw controlCharacter(at: pos, context: "in a comment")
      }
    }
  }

  /// Consumes one line ending if there is one; returns false otherwise.
  @inline(__always) mutating func skipNewline() throws(TOMLError) -> Bool {
    guard pos < end else { return false }
    if bytes[pos] == ASCII.newline {
      pos += 1
      return true
    }
    if bytes[pos] == ASCII.carriageReturn {
      guard byte(at: pos + 1) == ASCII.newline else { throw bareCarriageReturn(at: pos) }
      pos += 2
      return true
    }
    return false
  }

  /// Skips spaces, line endings and comments (between array elements).
  mutating func skipTrivia() throws(TOMLError) {
    while pos < end {
      skipSpaces()
      guard pos < end else { return }
      if bytes[pos] == ASCII.hash {
        try skipComment()
      } else if try !skipNewline() {
        return
      }
    }
  }

  /// After a key/value pair or header: optional spaces and comment, then a line ending or the end of file.
  mutating func endLine(after what: String) throws(TOMLError) {
    skipSpaces()
    guard pos < end else { return }
    if bytes[pos] == ASCII.hash { try skipComment() }
    guard pos < end else { return }
    if try skipNewline() { return }
    let found = unexpected(pos, expected: "a newline")
    guard found.code == .unexpectedToken else { throw found }
    var stop = pos
    while stop < end, bytes[stop] != ASCII.newline, bytes[stop] != ASCII.carriageReturn, stop - pos < 256 {
      stop += 1
    }
    throw error(
      .expectedNewline, "expected a newline after \(what), found \(describe(pos))", pos, stop,
      help: "put each key/value pair and table header on its own line")
  }

  // MARK: Document structure

  /// Parses the whole file.
  mutating func parseDocument() throws(TOMLError) -> TOMLTable {
    if end >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
    var current = 0
    while pos < end {
      skipSpaces()
      guard pos < end else { break }
      switch bytes[pos] {
      case ASCII.newline, ASCII.carriageReturn:
        _ = try skipNewline()
      case ASCII.hash:
        try skipComment()
      case ASCII.openBracket:
        current = try parseHeader()
        try endLine(after: "the table header")
      default:
        try parseKeyValue(into: current)
        try endLine(after: "the value")
      }
    }
    return builder.freeze(0)
  }

  /// Parses `[a.b]` or `[[a.b]]` and returns the table it opens.
  mutating func parseHeader() throws(TOMLError) -> Int {
    let start = pos
    pos += 1
    let isArray = byte(at: pos) == ASCII.openBracket
    if isArray { pos += 1 }
    try parseKeyPath()
    skipSpaces()
    guard byte(at: pos) == ASCII.closeBracket, pos < end else {
      throw unexpected(
        pos, expected: isArray ? "`]]` to close the table header" : "`]` to close the table header",
        help: pos < end && bytes[pos] != ASCII.newline ? nil : "close the header on the same line")
    }
    pos += 1
    if isArray {
      guard byte(at: pos) == ASCII.closeBracket, pos < end else {
        throw unexpected(pos, expected: "`]]` to close the array-of-tables header")
      }
      pos += 1
    }
    return try builder.openHeader(keyPath, isArray: isArray, span: span(start, pos))
  }

  /// Parses a possibly dotted key into `keyPath`.
  mutating func parseKeyPath() throws(TOMLError) {
    keyPath.removeAll(keepingCapacity: true)
    while true {
      skipSpaces()
      let segment = try parseKeySegment()
      keyPath.append(segment)
      if keyPath.count > TOMLTableBuilder.maxDepth {
        throw error(
          .nestingTooDeep, "dotted key has more than \(TOMLTableBuilder.maxDepth) parts", segment.span.start,
          segment.span.end, help: "flatten the structure")
      }
      skipSpaces()
      guard byte(at: pos) == ASCII.dot, pos < end else { return }
      pos += 1
    }
  }

  /// Parses one bare or quoted key segment.
  mutating func parseKeySegment() throws(TOMLError) -> TOMLKeySegment {
    let start = pos
    let first = byte(at: pos)
    if pos < end, ASCII.isBareKey(first) {
      pos += 1
      while pos < end, ASCII.isBareKey(bytes[pos]) { pos += 1 }
      return TOMLKeySegment(name: text(start, pos), span: span(start, pos))
    }
    if pos < end, first == ASCII.quote || first == ASCII.apostrophe {
      if byte(at: pos + 1) == first, byte(at: pos + 2) == first {
        throw error(
          .invalidKey, "a key cannot be a multi-line string", pos, pos + 3,
          help: "use a single-line quoted key")
      }
      let name = first == ASCII.quote ? try parseBasicString() : try parseLiteralString()
      return TOMLKeySegment(name: name, span: span(start, pos))
    }
    let found = unexpected(pos, expected: "a key")
    guard found.code == .unexpectedToken else { throw found }
    let help =
      first == ASCII.equals
      ? "write a key before `=`, or quote an empty key as \"\""
      : "bare keys may contain only A-Z, a-z, 0-9, `_` and `-`; quote other keys"
    throw error(.invalidKey, "expected a key, found \(describe(pos))", pos, pos + scalarLength(at: pos), help: help)
  }

  /// Parses `key = value` and stores it in `table` (or a table below it, for a dotted key).
  mutating func parseKeyValue(into table: Int) throws(TOMLError) {
    try parseKeyPath()
    let target = try builder.resolveKeyValue(keyPath, from: table)
    let key = keyPath[keyPath.count - 1]
    skipSpaces()
    guard byte(at: pos) == ASCII.equals, pos < end else {
      throw unexpected(
        pos, expected: "`=` after the key",
        help: pos >= end || bytes[pos] == ASCII.newline || bytes[pos] == ASCII.carriageReturn
          ? "a key must be followed by `=` and a value on the same line" : nil)
    }
    pos += 1
    skipSpaces()
    let value = try parseValue(depth: builder.tables[target].depth + 1)
    builder.add(value, key: key, to: target)
  }

  // MARK: Values

  /// Parses any value at `pos`.
  mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
    let start = pos
    let first = byte(at: pos)
    guard pos < end else { throw unexpected(pos, expected: "a value") }
    switch first {
    case ASCII.quote:
      let value =
        byte(at: pos + 1) == ASCII.quote && byte(at: pos + 2) == ASCII.quote
        ? try parseMultilineBasicString() : try parseBasicString()
      return TOMLValue(.string(value), span: span(start, pos))
    case ASCII.apostrophe:
      let value =
        byte(at: pos + 1) == ASCII.apostrophe && byte(at: pos + 2) == ASCII.apostrophe
        ? try parseMultilineLiteralString() : try parseLiteralString()
      return TOMLValue(.string(value), span: span(start, pos))
    case ASCII.openBracket:
      return try parseArray(depth: depth)
    case ASCII.openBrace:
      return try parseInlineTable(depth: depth)
    case ASCII.zero...ASCII.nine:
      if isDateStart(pos) || isTimeStart(pos) { return try parseDateTime() }
      return try parseWord()
    case ASCII.plus, ASCII.minus, ASCII.dot, ASCII.underscore:
      return try parseWord()
    default:
      if ASCII.isBareKey(first) { return try parseWord() }
      throw unexpected(
        pos, expected: "a value",
        help: first == ASCII.newline || first == ASCII.carriageReturn || first == ASCII.hash
          ? "write a value after `=`, such as \"text\", 42 or true" : nil)
    }
  }

  /// Parses `[ ... ]`.
  mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
    let start = pos
    guard depth <= TOMLTableBuilder.maxDepth else {
      throw error(
        .nestingTooDeep, "arrays and inline tables are nested more than \(TOMLTableBuilder.maxDepth) levels deep",
        start, start + 1, help: "flatten the structure")
    }
    pos += 1
    var elements: [TOMLValue] = []
    while true {
      try skipTrivia()
      guard pos < end else {
        throw error(
          .unexpectedToken, "array is not closed", start, start + 1, label: "opened here",
          help: "close it with `]`")
      }
      if bytes[pos] == ASCII.closeBracket {
        pos += 1
        break
      }
      elements.append(try parseValue(depth: depth + 1))
      try skipTrivia()
      if byte(at: pos) == ASCII.comma, pos < end {
        pos += 1
        continue
      }
      if byte(at: pos) == ASCII.closeBracket, pos < end {
        pos += 1
        break
      }
      if pos >= end {
        throw error(
          .unexpectedToken, "array is not closed", start, start + 1, label: "opened here",
          help: "close it with `]`")
      }
      throw unexpected(pos, expected: "`,` or `]` after an array element")
    }
    return TOMLValue(.array(elements), span: span(start, pos))
  }

  /// Parses `{ ... }`; the table is frozen at once since inline tables are never extended.
  mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
    let start = pos
    guard depth <= TOMLTableBuilder.maxDepth else {
      throw error(
        .nestingTooDeep, "arrays and inline tables are nested more than \(TOMLTableBuilder.maxDepth) levels deep",
        start, start + 1, help: "flatten the structure")
    }
    pos += 1
    let table = try builder.newTable(origin: .inline, span: span(start, start + 1), depth: depth)
    skipSpaces()
    if byte(at: pos) == ASCII.closeBrace, pos < end {
      pos += 1
    } else {
      while true {
        try checkInlineLine(start)
        try parseKeyValue(into: table)
        skipSpaces()
        try checkInlineLine(start)
        let next = bytes[pos]
        if next == ASCII.closeBrace {
          pos += 1
          break
        }
        guard next == ASCII.comma else { throw unexpected(pos, expected: "`,` or `}` in the inline table") }
        pos += 1
        skipSpaces()
        if byte(at: pos) == ASCII.closeBrace, pos < end {
          throw error(
            .unexpectedToken, "trailing comma in an inline table", pos - 1, pos,
            help: "remove the comma: TOML 1.0 does not allow one before `}`")
        }
      }
    }
    let frozen = builder.freeze(table)
    builder.truncate(to: table)
    return TOMLValue(.table(frozen), span: span(start, pos))
  }

  /// Inline tables must sit on one line in TOML 1.0.
  func checkInlineLine(_ start: Int) throws(TOMLError) {
    guard pos < end else {
      throw error(
        .unexpectedToken, "inline table is not closed", start, start + 1, label: "opened here",
        help: "close it with `}`")
    }
    let value = bytes[pos]
    if value == ASCII.newline || value == ASCII.carriageReturn || value == ASCII.hash {
      throw error(
        .unexpectedToken, "inline table is not closed on its line", start, start + 1, label: "opened here",
        help: "TOML 1.0 inline tables must fit on one line; use a [table] header for longer tables")
    }
  }
}
