import Glibc

/// Why a JSON document could not be parsed, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Byte offset into the input where the problem was found.
  public var offset: Int
  /// A short human-readable explanation, e.g. `expected ',' or '}' after object member`.
  public var message: String

  /// Creates an error.
  public init(offset: Int, message: String) {
    self.offset = offset
    self.message = message
  }

  /// `message at byte N`.
  public var description: String { "\(message) at byte \(offset)" }
}

/// Which departures from RFC 8259 a parse accepts.
public struct JSONSyntax: Sendable, Equatable {
  /// Accept one comma after the last member or element (`{"a":1,}`, `[1,2,]`); never `{,}`, `[,]` or `,,`.
  public var allowsTrailingCommas: Bool

  /// Creates a syntax.
  public init(allowsTrailingCommas: Bool) { self.allowsTrailingCommas = allowsTrailingCommas }

  /// RFC 8259 exactly: backends' answers, route data, everything that is not a Gemini client's request.
  public static let strict = JSONSyntax(allowsTrailingCommas: false)
  /// Request bodies from Gemini clients: Google's front accepts trailing commas and its own REST samples
  /// (countTokens, embedContent) rely on them. Nothing else is relaxed (no comments, single quotes, bare keys).
  public static let geminiRequest = JSONSyntax(allowsTrailingCommas: true)
}

/// An RFC 8259 JSON parser working directly on UTF-8 bytes (strict unless a ``JSONSyntax`` says otherwise).
///
/// Integers that fit `Int64` become `.int`, every other number `.double`. Object members keep their order
/// and duplicates are kept (``JSONValue/subscript(_:)`` returns the first). Nesting deeper than
/// ``defaultMaxDepth`` (never deeper than ``maxSupportedDepth``) is rejected rather than risking the stack, and
/// number literals longer than ``maxNumberLength`` bytes are rejected before any conversion. Lone UTF-16 surrogates in `\u` escapes
/// become U+FFFD (some JSON writers emit them for broken text; refusing the whole body would be worse);
/// raw bytes that are not valid UTF-8 are an error.
public enum JSONParser {
  /// The nesting depth accepted by default.
  public static let defaultMaxDepth = 256
  /// The deepest nesting any caller may ask for: the parser recurses once per level, and a thread's stack is
  /// finite (a cooperative-pool thread has well under a megabyte).
  public static let maxSupportedDepth = 512
  /// The longest number literal accepted, in bytes: no real number needs more (a double has 17 significant
  /// digits), and a megabyte of digits would only burn time in the conversion.
  public static let maxNumberLength = 1024

  /// Parses one JSON document; surrounding whitespace is allowed, anything else after the value is an error.
  /// Error offsets count from the first byte of `bytes` (also for slices).
  public static func parse(
    _ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth, syntax: JSONSyntax = .strict
  ) throws(JSONParseError) -> JSONValue {
    let result: Result<JSONValue, JSONParseError>? = bytes.withContiguousStorageIfAvailable { buffer in
      parseResult(buffer, maxDepth: maxDepth, syntax: syntax)
    }
    if let result { return try result.get() }
    let copy = Array(bytes)
    return try copy.withUnsafeBufferPointer { buffer in parseResult(buffer, maxDepth: maxDepth, syntax: syntax) }
      .get()
  }

  /// Parses one JSON document held in an array (every body louter reads): the same as the generic form, without
  /// the generic dispatch, which is not specialised across modules.
  public static func parse(
    _ bytes: [UInt8], maxDepth: Int = defaultMaxDepth, syntax: JSONSyntax = .strict
  ) throws(JSONParseError) -> JSONValue {
    try bytes.withUnsafeBufferPointer { buffer in parseResult(buffer, maxDepth: maxDepth, syntax: syntax) }.get()
  }

  /// Parses JSON text.
  public static func parse(
    _ text: String, maxDepth: Int = defaultMaxDepth, syntax: JSONSyntax = .strict
  ) throws(JSONParseError) -> JSONValue {
    var text = text
    // Native strings are contiguous UTF-8 already; this only copies for bridged or lazy ones.
    return try text.withUTF8 { buffer in parseResult(buffer, maxDepth: maxDepth, syntax: syntax) }.get()
  }

  private static func parseResult(
    _ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, syntax: JSONSyntax
  ) -> Result<JSONValue, JSONParseError> {
    var cursor = JSONCursor(buffer: buffer, maxDepth: maxDepth, syntax: syntax)
    do throws(JSONParseError) {
      cursor.skipWhitespace()
      let value = try cursor.parseValue(depth: 0)
      cursor.skipWhitespace()
      if cursor.position < buffer.count {
        throw cursor.error("unexpected data after the JSON value")
      }
      return .success(value)
    } catch {
      return .failure(error)
    }
  }
}

/// The parsing state over one buffer; shared by ``JSONParser`` and the patch scanner.
struct JSONCursor {
  let buffer: UnsafeBufferPointer<UInt8>
  let maxDepth: Int
  let syntax: JSONSyntax
  var position = 0

  init(buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, syntax: JSONSyntax) {
    self.buffer = buffer
    self.maxDepth = min(maxDepth, JSONParser.maxSupportedDepth)
    self.syntax = syntax
  }

  /// After a comma (and whitespace): whether `close` ends the container here, which only a syntax allowing
  /// trailing commas permits; consumes it when so.
  mutating func closesAfterComma(_ close: UInt8) -> Bool {
    guard syntax.allowsTrailingCommas, current == close else { return false }
    position += 1
    return true
  }

  func error(_ message: String, at offset: Int? = nil) -> JSONParseError {
    JSONParseError(offset: offset ?? position, message: message)
  }

  var atEnd: Bool { position >= buffer.count }

  /// The current byte, or 0 at the end (0 is never valid JSON outside strings, so it reads as "unexpected").
  var current: UInt8 { position < buffer.count ? buffer[position] : 0 }

  mutating func skipWhitespace() {
    while position < buffer.count {
      switch buffer[position] {
      case 0x20, 0x0A, 0x0D, 0x09: position += 1
      default: return
      }
    }
  }

  func describeCurrent() -> String {
    if atEnd { return "end of input" }
    let byte = current
    if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
    return "byte 0x" + String(byte, radix: 16)
  }

  mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
    switch current {
    case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
    case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
    default: throw error("expected a JSON value, found \(describeCurrent())")
    }
  }

  mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
    let start = position
    let count = literal.utf8CodeUnitCount
    guard buffer.count - position >= count else { throw error("invalid literal", at: start) }
    let base = literal.utf8Start
    for index in 0..<count where buffer[position + index] != base[index] {
      throw error("invalid literal", at: start)
    }
    position += count
  }

  // The tree's containers read in loops of their own rather than through ``walkObject(depth:member:)``'s
  // closures: a call through a closure (and a thunk for the key) per member showed in the profile of a request.
  //
  // A container of one or two entries (most in request bodies: `contents`, `parts`, `{"text": …}`) is made whole
  // at its size from the entries held apart; a larger one has room for four made at once, not one per doubling.
  // Reserving room and appending cost a few hundred instructions a container more than making it whole.
  private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
    if try enterContainer(UInt8(ascii: "{"), UInt8(ascii: "}"), depth: depth, expected: "expected an object") {
      return .object([])
    }
    let first = try parseMember(depth: depth)
    guard try continueObject() else { return .object([first]) }
    let second = try parseMember(depth: depth)
    guard try continueObject() else { return .object([first, second]) }
    var members: [JSONMember] = []
    members.reserveCapacity(4)
    members.append(first)
    members.append(second)
    repeat {
      members.append(try parseMember(depth: depth))
    } while try continueObject()
    return .object(members)
  }

  /// One member of an object, from its key's opening quote to the whitespace after its value.
  @inline(__always)
  private mutating func parseMember(depth: Int) throws(JSONParseError) -> JSONMember {
    try expectKey()
    let key = try parseString()
    try expectColon()
    let member = JSONMember(key, try parseValue(depth: depth))
    skipWhitespace()
    return member
  }

  @inline(__always)
  private mutating func continueObject() throws(JSONParseError) -> Bool {
    try continueContainer(UInt8(ascii: "}"), expected: "expected ',' or '}' after object member")
  }

  private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
    if try enterContainer(UInt8(ascii: "["), UInt8(ascii: "]"), depth: depth, expected: "expected an array") {
      return .array([])
    }
    let first = try parseElement(depth: depth)
    guard try continueArray() else { return .array([first]) }
    let second = try parseElement(depth: depth)
    guard try continueArray() else { return .array([first, second]) }
    var elements: [JSONValue] = []
    elements.reserveCapacity(4)
    elements.append(first)
    elements.append(second)
    repeat {
      elements.append(try parseElement(depth: depth))
    } while try continueArray()
    return .array(elements)
  }

  /// One element of an array and the whitespace after it.
  @inline(__always)
  private mutating func parseElement(depth: Int) throws(JSONParseError) -> JSONValue {
    let element = try parseValue(depth: depth)
    skipWhitespace()
    return element
  }

  @inline(__always)
  private mutating func continueArray() throws(JSONParseError) -> Bool {
    try continueContainer(UInt8(ascii: "]"), expected: "expected ',' or ']' after array element")
  }

  /// The object grammar, once for every reader: from the `{` at the cursor (an object at nesting `depth`), calls
  /// `member` with each key and the cursor on its value, which `member` must consume; ends after the `}`.
  mutating func walkObject(
    depth: Int, member: (inout JSONCursor, String) throws(JSONParseError) -> Void
  ) throws(JSONParseError) {
    try walkObject(depth: depth, key: { (cursor) throws(JSONParseError) in try cursor.parseString() }, member: member)
  }

  /// ``walkObject(depth:member:)`` with the keys read by `key` (from the opening quote), for a reader that does
  /// not need them as strings.
  mutating func walkObject<Key>(
    depth: Int, key readKey: (inout JSONCursor) throws(JSONParseError) -> Key,
    member: (inout JSONCursor, Key) throws(JSONParseError) -> Void
  ) throws(JSONParseError) {
    if try enterContainer(UInt8(ascii: "{"), UInt8(ascii: "}"), depth: depth, expected: "expected an object") {
      return
    }
    repeat {
      try expectKey()
      let key = try readKey(&self)
      try expectColon()
      try member(&self, key)
      skipWhitespace()
    } while try continueContainer(UInt8(ascii: "}"), expected: "expected ',' or '}' after object member")
  }

  /// The array grammar, as ``walkObject(depth:member:)`` is the object's: `element` consumes each element.
  mutating func walkArray(depth: Int, element: (inout JSONCursor) throws(JSONParseError) -> Void)
    throws(JSONParseError)
  {
    if try enterContainer(UInt8(ascii: "["), UInt8(ascii: "]"), depth: depth, expected: "expected an array") {
      return
    }
    repeat {
      try element(&self)
      skipWhitespace()
    } while try continueContainer(UInt8(ascii: "]"), expected: "expected ',' or ']' after array element")
  }

  /// Consumes the `open` byte of a container at nesting `depth` and the whitespace after it; true when `close`
  /// follows at once (then consumed too: the container is empty). `expected` begins the error for another byte.
  @inline(__always)
  private mutating func enterContainer(_ open: UInt8, _ close: UInt8, depth: Int, expected: StaticString)
    throws(JSONParseError) -> Bool
  {
    guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
    guard current == open else { throw error("\(expected), found \(describeCurrent())") }
    position += 1
    skipWhitespace()
    guard current == close else { return false }
    position += 1
    return true
  }

  /// After a member or element and its whitespace: true after a `,` (and whitespace) that another one follows,
  /// false after the `close` (also one after a trailing comma, where the syntax allows that).
  @inline(__always)
  mutating func continueContainer(_ close: UInt8, expected: StaticString) throws(JSONParseError) -> Bool {
    switch current {
    case UInt8(ascii: ","):
      position += 1
      skipWhitespace()
      return !closesAfterComma(close)
    case close:
      position += 1
      return false
    default: throw error("\(expected), found \(describeCurrent())")
    }
  }

  /// Refuses anything but a key's opening quote where a member begins.
  @inline(__always)
  func expectKey() throws(JSONParseError) {
    guard current == UInt8(ascii: "\"") else {
      throw error("expected a string key in object, found \(describeCurrent())")
    }
  }

  /// After a key: the whitespace, the `:` and the whitespace before the value.
  @inline(__always)
  mutating func expectColon() throws(JSONParseError) {
    skipWhitespace()
    guard current == UInt8(ascii: ":") else { throw error("expected ':' after object key") }
    position += 1
    skipWhitespace()
  }

  /// Parses a string starting at its opening quote.
  /// `inPlace` false decodes every string with escapes by appending (what a string that outgrows its room does),
  /// so that tests can hold the two ways against each other.
  mutating func parseString(inPlace: Bool = true) throws(JSONParseError) -> String {
    let open = position
    position += 1
    let start = position
    // Without escapes the bytes are validated and copied in one go; with them, each run between escapes is
    // copied whole into `decoded`.
    var seen: UInt64 = 0
    var decoded: [UInt8] = []
    var escaped = false
    var runStart = start
    while true {
      position = plainRunEnd(seen: &seen)
      guard position < buffer.count else { throw error("unterminated string", at: open) }
      let byte = buffer[position]
      if byte == UInt8(ascii: "\"") {
        let run = UnsafeBufferPointer(rebasing: buffer[runStart..<position])
        let text: String
        // ASCII is valid UTF-8 by construction: no need to check the decoding left it unchanged.
        let ascii = seen & ByteWord.highBits == 0
        if escaped {
          decoded.append(bytes: run)
          text =
            ascii
            ? String(decoding: decoded, as: UTF8.self)
            : try decoded.withUnsafeBufferPointer { (chunk) throws(JSONParseError) in
              try makeString(chunk, at: start)
            }
        } else {
          text =
            ascii
            ? JSONCommonStrings.literal(run) ?? String(decoding: run, as: UTF8.self) : try makeString(run, at: start)
        }
        position += 1
        return text
      }
      if byte == UInt8(ascii: "\\") {
        if !escaped {
          // Room for all of it at once, written in place: grown from a guess, a long escaped prompt was copied
          // into a buffer twice its size and size again, half a dozen times, and appended to run by run.
          if inPlace, let bound = decodedLengthBound(start: start) {
            let firstEscape = position
            if let text = try parseEscaped(start: start, open: open, bound: bound, seen: seen) { return text }
            position = firstEscape
          }
          escaped = true
          decoded.reserveCapacity(position - start + 16)
        }
        decoded.append(bytes: UnsafeBufferPointer(rebasing: buffer[runStart..<position]))
        let escapeStart = decoded.count
        try parseEscape(into: &decoded)
        // What the escape stands for counts too (`\u00e9` is not ASCII).
        for index in escapeStart..<decoded.count { seen |= UInt64(decoded[index]) }
        runStart = position
        continue
      }
      throw error("unescaped control character in string")
    }
  }

  /// ``parseString()`` from the first escape of a string on (at `position`; `seen` covers the bytes before it),
  /// decoded into room for `bound` bytes made once, each run and escape written in place; the same text or
  /// error. Nil when the text would outgrow the room (never for a string that decodes, as `bound` is from
  /// ``decodedLengthBound(start:)``): the caller then decodes it from the same escape by appending.
  private mutating func parseEscaped(start: Int, open: Int, bound: Int, seen initial: UInt64)
    throws(JSONParseError) -> String?
  {
    var seen = initial
    var fits = true
    let decoded = try [UInt8](unsafeUninitializedCapacity: bound) { (target, length) throws(JSONParseError) in
      guard let base = target.baseAddress, let source = buffer.baseAddress else {
        fits = false
        return
      }
      var runStart = start
      while true {
        position = plainRunEnd(seen: &seen)
        guard position < buffer.count else { throw error("unterminated string", at: open) }
        let byte = buffer[position]
        if byte != UInt8(ascii: "\\"), byte != UInt8(ascii: "\"") {
          throw error("unescaped control character in string")
        }
        // The run, and after it the escape's at most four bytes.
        guard length + (position - runStart) + (byte == UInt8(ascii: "\"") ? 0 : 4) <= target.count else {
          fits = false
          return
        }
        (base + length).initialize(from: source + runStart, count: position - runStart)
        length += position - runStart
        if byte == UInt8(ascii: "\"") { return }
        let (utf8, count) = Self.utf8(of: try parseEscapeScalar())
        for index in 0..<count {
          (base + length + index).initialize(to: UInt8(truncatingIfNeeded: utf8 >> (8 * UInt32(index))))
        }
        // What the escape stands for counts too (`\u00e9` is not ASCII).
        seen |= UInt64(utf8)
        length += count
        runStart = position
      }
    }
    guard fits else { return nil }
    let text =
      try decoded.withUnsafeBufferPointer { (chunk) throws(JSONParseError) -> String in
        // ASCII is valid UTF-8 by construction: no need to check the decoding left it unchanged.
        seen & ByteWord.highBits == 0 ? String(decoding: chunk, as: UTF8.self) : try makeString(chunk, at: start)
      }
    position += 1
    return text
  }

  /// At least as many bytes as the string whose body starts at `start` (before `position`, which is on one of
  /// its backslashes) decodes to: the bytes up to its end, the first `"` after `position` behind an even number
  /// of backslashes, as no escape decodes to more bytes than it is written with. Nil when no such `"` follows
  /// (the string is unterminated: its decoding fails).
  func decodedLengthBound(start: Int) -> Int? {
    guard let base = buffer.baseAddress else { return nil }
    var index = position
    while index < buffer.count, let found = memchr(base + index, Int32(UInt8(ascii: "\"")), buffer.count - index) {
      let quote = UnsafeRawPointer(found) - UnsafeRawPointer(base)
      var backslashes = 0
      while quote - backslashes > start, buffer[quote - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
      if backslashes % 2 == 0 { return quote - start }
      index = quote + 1
    }
    return nil
  }

  /// Where the plain run of a string's body that starts at `position` ends: the index of its first `"`, `\` or
  /// control byte, or the buffer's end. The bytes before it are OR-ed into `seen`, whose high bits then say
  /// whether one was not ASCII. Read eight bytes at a time while eight are left, the stop located within its
  /// word by ``JSONStringBytes/firstStop(_:)`` (a key or a short value is one word, a long prompt a few
  /// instructions per word); the last few bytes of the buffer one at a time.
  @inline(__always)
  func plainRunEnd(seen: inout UInt64) -> Int {
    let end = buffer.count
    var index = position
    let raw = UnsafeRawBufferPointer(buffer)
    while end - index >= 8 {
      let word = ByteWord.load(raw, at: index)
      if let stop = JSONStringBytes.firstStop(word) {
        // Only the bytes before the stop are the run's (a shift by 0 keeps none).
        seen |= word & ((1 &<< UInt64(stop &* 8)) &- 1)
        return index + stop
      }
      seen |= word
      index += 8
    }
    while index < end {
      let byte = buffer[index]
      if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return index }
      seen |= UInt64(byte)
      index += 1
    }
    return end
  }

  /// Reads a key from its opening quote without making a string when it is plain ASCII without escapes (every
  /// key of an API body); anything else is decoded as ``parseString()`` decodes it.
  mutating func scanKey() throws(JSONParseError) -> JSONKey {
    let open = position
    position += 1
    var seen: UInt64 = 0
    let stop = plainRunEnd(seen: &seen)
    if stop < buffer.count, buffer[stop] == UInt8(ascii: "\""), seen & ByteWord.highBits == 0 {
      position = stop + 1
      return JSONKey(bytes: UnsafeBufferPointer(rebasing: buffer[(open + 1)..<stop]))
    }
    // Escaped, not ASCII, or malformed: decoded (or refused) from the opening quote as any string.
    position = open
    return JSONKey(text: try parseString())
  }

  private func makeString(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) throws(JSONParseError) -> String {
    guard let text = UTF8Text.validated(bytes) else {
      throw error("string is not valid UTF-8", at: start)
    }
    return text
  }

  private mutating func parseEscape(into bytes: inout [UInt8]) throws(JSONParseError) {
    let (utf8, count) = Self.utf8(of: try parseEscapeScalar())
    for index in 0..<count { bytes.append(UInt8(truncatingIfNeeded: utf8 >> (8 * UInt32(index)))) }
  }

  /// Reads one escape from its backslash: the scalar it stands for (a lone surrogate as U+FFFD).
  private mutating func parseEscapeScalar() throws(JSONParseError) -> UInt32 {
    let escapeStart = position
    position += 1
    guard position < buffer.count else { throw error("unterminated string") }
    let byte = buffer[position]
    position += 1
    switch byte {
    case UInt8(ascii: "\""): return UInt32(UInt8(ascii: "\""))
    case UInt8(ascii: "\\"): return UInt32(UInt8(ascii: "\\"))
    case UInt8(ascii: "/"): return UInt32(UInt8(ascii: "/"))
    case UInt8(ascii: "b"): return 0x08
    case UInt8(ascii: "f"): return 0x0C
    case UInt8(ascii: "n"): return 0x0A
    case UInt8(ascii: "r"): return 0x0D
    case UInt8(ascii: "t"): return 0x09
    case UInt8(ascii: "u"):
      var scalar = try parseHex4()
      if (0xD800..<0xDC00).contains(scalar) {
        // A high surrogate needs a low one right after it to make one scalar.
        if buffer.count - position >= 6, buffer[position] == UInt8(ascii: "\\"),
          buffer[position + 1] == UInt8(ascii: "u")
        {
          let save = position
          position += 2
          let low = try parseHex4()
          if (0xDC00..<0xE000).contains(low) {
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          } else {
            position = save
            scalar = 0xFFFD
          }
        } else {
          scalar = 0xFFFD
        }
      } else if (0xDC00..<0xE000).contains(scalar) {
        scalar = 0xFFFD
      }
      return scalar
    default:
      throw error("invalid escape sequence", at: escapeStart)
    }
  }

  mutating func parseHex4() throws(JSONParseError) -> UInt32 {
    guard buffer.count - position >= 4 else { throw error("incomplete \\u escape") }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let byte = buffer[position]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw error("invalid hex digit in \\u escape")
      }
      value = value << 4 | UInt32(digit)
      position += 1
    }
    return value
  }

  /// The UTF-8 of `scalar` (below 0x110000), its first byte lowest, and how many bytes it has.
  private static func utf8(of scalar: UInt32) -> (bytes: UInt32, count: Int) {
    switch scalar {
    case 0..<0x80: (scalar, 1)
    case 0x80..<0x800: ((0xC0 | scalar >> 6) | (0x80 | scalar & 0x3F) << 8, 2)
    case 0x800..<0x10000:
      ((0xE0 | scalar >> 12) | (0x80 | (scalar >> 6) & 0x3F) << 8 | (0x80 | scalar & 0x3F) << 16, 3)
    default:
      (
        (0xF0 | scalar >> 18) | (0x80 | (scalar >> 12) & 0x3F) << 8 | (0x80 | (scalar >> 6) & 0x3F) << 16
          | (0x80 | scalar & 0x3F) << 24, 4
      )
    }
  }

  /// Scans the number grammar; returns whether it had a fraction or exponent.
  mutating func scanNumber() throws(JSONParseError) -> Bool {
    let start = position
    if current == UInt8(ascii: "-") { position += 1 }
    if current == UInt8(ascii: "0") {
      position += 1
      if isDigit(current) { throw error("leading zeros are not allowed", at: start) }
    } else if isDigit(current) {
      while isDigit(current) { position += 1 }
    } else {
      throw error("invalid number", at: start)
    }
    var isInteger = true
    if current == UInt8(ascii: ".") {
      isInteger = false
      position += 1
      guard isDigit(current) else { throw error("expected a digit after '.'") }
      while isDigit(current) { position += 1 }
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      isInteger = false
      position += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
      guard isDigit(current) else { throw error("expected a digit in exponent") }
      while isDigit(current) { position += 1 }
    }
    guard position - start <= JSONParser.maxNumberLength else {
      throw error("number literal longer than \(JSONParser.maxNumberLength) bytes", at: start)
    }
    return !isInteger
  }

  private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

  private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
    let start = position
    let isFloat = try scanNumber()
    if !isFloat {
      var index = start
      let negative = buffer[index] == UInt8(ascii: "-")
      if negative { index += 1 }
      var value: Int64 = 0
      var overflow = false
      while index < position {
        let digit = Int64(buffer[index] - UInt8(ascii: "0"))
        let (times, o1) = value.multipliedReportingOverflow(by: 10)
        // Accumulate negatively so Int64.min fits.
        let (next, o2) = times.subtractingReportingOverflow(digit)
        if o1 || o2 {
          overflow = true
          break
        }
        value = next
        index += 1
      }
      if !overflow {
        if negative { return .int(value) }
        if value != Int64.min { return .int(-value) }
      }
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<position]), as: UTF8.self)
    guard let number = Double(text), number.isFinite else { throw error("number out of range", at: start) }
    return .double(number)
  }

  /// Skips one value without building it, validating its syntax.
  mutating func skipValue(depth: Int) throws(JSONParseError) {
    switch current {
    case UInt8(ascii: "{"): try skipObject(depth: depth + 1)
    case UInt8(ascii: "["): try skipArray(depth: depth + 1)
    case UInt8(ascii: "\""): try skipString()
    case UInt8(ascii: "t"): try expectLiteral("true")
    case UInt8(ascii: "f"): try expectLiteral("false")
    case UInt8(ascii: "n"): try expectLiteral("null")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
    default: throw error("expected a JSON value, found \(describeCurrent())")
    }
  }

  private mutating func skipObject(depth: Int) throws(JSONParseError) {
    try walkObject(depth: depth) { (cursor, _) throws(JSONParseError) in try cursor.skipValue(depth: depth) }
  }

  private mutating func skipArray(depth: Int) throws(JSONParseError) {
    try walkArray(depth: depth) { (cursor) throws(JSONParseError) in try cursor.skipValue(depth: depth) }
  }

  /// Skips a string without decoding it; escapes are validated, UTF-8 is not (bytes pass through untouched).
  mutating func skipString() throws(JSONParseError) {
    let open = position
    position += 1
    var seen: UInt64 = 0  // not needed here: the bytes pass through unchecked
    while true {
      // The plain run first, again after each escape.
      position = plainRunEnd(seen: &seen)
      guard position < buffer.count else { break }
      let byte = buffer[position]
      switch byte {
      case UInt8(ascii: "\""):
        position += 1
        return
      case UInt8(ascii: "\\"):
        position += 1
        switch current {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
          UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
          position += 1
        case UInt8(ascii: "u"):
          position += 1
          _ = try parseHex4()
        default: throw error("invalid escape sequence", at: position - 1)
        }
      case 0x00..<0x20:
        throw error("unescaped control character in string")
      default:
        position += 1
      }
    }
    throw error("unterminated string", at: open)
  }
}

/// The bytes that end the plain run of a JSON string's body, tested eight at a time (``ByteWord``): for the
/// scanners a `"`, a `\` or a control byte; for the writer those and DEL, which it escapes too.
enum JSONStringBytes {
  @inline(__always)
  private static func stopBytes(_ word: UInt64) -> UInt64 {
    ByteWord.equal(word, 0x22) | ByteWord.equal(word, 0x5C) | ByteWord.below(word, 0x20)
  }

  /// The offset (0...7) of the first `"`, `\` or control byte (below 0x20) in `word`, nil when there is none.
  @inline(__always)
  static func firstStop(_ word: UInt64) -> Int? { ByteWord.first(stopBytes(word)) }

  /// Marks the bytes of `word` the writer escapes: those of ``firstStop(_:)`` and DEL.
  @inline(__always)
  static func escapeMarks(_ word: UInt64) -> UInt64 { stopBytes(word) | ByteWord.equal(word, 0x7F) }
}

/// The names and values nearly every Gemini request repeats (`contents`, `role`, `user`, `parts`, `text`, …), met as
/// a string without escapes, become string literals: equal strings, without decoding the bytes into a new one
/// (about 150 instructions each, and an allocation for those longer than 15 bytes).
enum JSONCommonStrings {
  /// The literal spelled by `run` (ASCII), or nil when it is not one of them.
  static func literal(_ run: UnsafeBufferPointer<UInt8>) -> String? {
    guard let base = run.baseAddress, run.count >= 4 else { return nil }
    // By length and first byte: most strings are no candidate, and a candidate's bytes are compared whole only when
    // it could be it.
    let text: String
    switch (run.count, base[0]) {
    case (4, UInt8(ascii: "t")): text = base[1] == UInt8(ascii: "e") ? "text" : "topP"
    case (4, UInt8(ascii: "r")): text = "role"
    case (4, UInt8(ascii: "u")): text = "user"
    case (4, UInt8(ascii: "n")): text = "name"
    case (4, UInt8(ascii: "a")): text = "args"
    case (4, UInt8(ascii: "d")): text = "data"
    case (5, UInt8(ascii: "p")): text = "parts"
    case (5, UInt8(ascii: "m")): text = "model"
    case (5, UInt8(ascii: "t")): text = "tools"
    case (8, UInt8(ascii: "c")): text = "contents"
    case (8, UInt8(ascii: "m")): text = "mimeType"
    case (10, UInt8(ascii: "i")): text = "inlineData"
    case (11, UInt8(ascii: "t")): text = "temperature"
    case (12, UInt8(ascii: "f")): text = "functionCall"
    case (15, UInt8(ascii: "m")): text = "maxOutputTokens"
    case (16, UInt8(ascii: "g")): text = "generationConfig"
    case (16, UInt8(ascii: "f")): text = "functionResponse"
    case (17, UInt8(ascii: "s")): text = "systemInstruction"
    case (20, UInt8(ascii: "f")): text = "functionDeclarations"
    default: return nil
    }
    // The candidate's own bytes (a literal's are contiguous UTF-8): its length is the run's.
    let same = text.utf8.withContiguousStorageIfAvailable { own in
      own.baseAddress.map { memcmp(base, $0, run.count) == 0 } ?? false
    }
    return same == true ? text : nil
  }
}
