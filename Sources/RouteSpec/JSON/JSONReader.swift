/// A pull reader over one JSON document, for a caller that wants a few fields of a known shape without building
/// the whole tree (a backend's answer on the hot path).
///
/// It accepts exactly what ``JSONParser`` accepts, with the same errors: the grammar is the parser's own
/// (``JSONCursor``), and every value the caller does not read is parsed and dropped by ``skipValue()``, so a
/// document is never accepted here that the parser would refuse (bad UTF-8 or an out-of-range number in a field
/// nobody reads included).
public struct JSONReader {
  /// What the next value is, from its first byte.
  public enum Kind: Sendable, Equatable {
    case object, array, string, number, bool, null
    /// Not the start of any JSON value: reading it fails.
    case invalid
  }

  private var cursor: JSONCursor
  /// The nesting depth of the container the reader is in (0 at the top).
  private var depth: Int
  /// Whether a container was just entered (``enterObject()``, ``enterArray()``) and its first member or element
  /// not yet asked for: then no comma comes before it.
  private var entered = false

  private init(cursor: JSONCursor, depth: Int) {
    self.cursor = cursor
    self.depth = depth
  }

  /// A reader over one document in `buffer` (which must outlive it), at its value: for a caller that pulls the
  /// document member by member (``enterObject()``, ``nextMember()``) without a closure per container, and then
  /// calls ``finish()``. Strict RFC 8259 syntax, the parser's default depth.
  public init(document buffer: UnsafeBufferPointer<UInt8>) {
    cursor = JSONCursor(buffer: buffer, maxDepth: JSONParser.defaultMaxDepth, syntax: .strict)
    depth = 0
    cursor.skipWhitespace()
  }

  /// Ends a document read from ``init(document:)``, whose one value the caller has consumed: only whitespace may
  /// follow it.
  public mutating func finish() throws(JSONParseError) {
    cursor.skipWhitespace()
    guard cursor.atEnd else { throw cursor.error("unexpected data after the JSON value") }
  }

  /// Reads one document with `body`, which must consume its one top-level value; then only whitespace may
  /// follow. Strict RFC 8259 syntax, the parser's default depth.
  public static func read<Result>(
    _ bytes: [UInt8], _ body: (inout JSONReader) throws(JSONParseError) -> Result
  ) throws(JSONParseError) -> Result {
    var failure = JSONParseError(offset: 0, message: "")
    guard let result = bytes.withUnsafeBufferPointer({ buffer in read(buffer, body, failure: &failure) }) else {
      throw failure
    }
    return result
  }

  /// ``read(_:_:)`` over JSON text.
  public static func read<Result>(
    _ text: String, _ body: (inout JSONReader) throws(JSONParseError) -> Result
  ) throws(JSONParseError) -> Result {
    var text = text
    var failure = JSONParseError(offset: 0, message: "")
    // Native strings are contiguous UTF-8 already; this only copies for bridged or lazy ones.
    guard let result = text.withUTF8({ buffer in read(buffer, body, failure: &failure) }) else { throw failure }
    return result
  }

  /// The document's reading, or nil with its error in `failure`. (`withUTF8` rethrows untyped errors only, and a
  /// `Result` carrying the typed one out cost a generic metadata lookup per document.)
  private static func read<Result>(
    _ buffer: UnsafeBufferPointer<UInt8>, _ body: (inout JSONReader) throws(JSONParseError) -> Result,
    failure: inout JSONParseError
  ) -> Result? {
    var reader = JSONReader(
      cursor: JSONCursor(buffer: buffer, maxDepth: JSONParser.defaultMaxDepth, syntax: .strict), depth: 0)
    do throws(JSONParseError) {
      reader.cursor.skipWhitespace()
      let result = try body(&reader)
      reader.cursor.skipWhitespace()
      guard reader.cursor.atEnd else { throw reader.cursor.error("unexpected data after the JSON value") }
      return result
    } catch {
      failure = error
      return nil
    }
  }

  /// The kind of the value at the reader.
  public var next: Kind {
    switch cursor.current {
    case UInt8(ascii: "{"): .object
    case UInt8(ascii: "["): .array
    case UInt8(ascii: "\""): .string
    case UInt8(ascii: "t"), UInt8(ascii: "f"): .bool
    case UInt8(ascii: "n"): .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): .number
    default: .invalid
    }
  }

  /// Reads an object, calling `member` with each key and the reader on its value, which `member` must consume
  /// (read or skip). Fails when the value is not an object.
  public mutating func forEachMember(_ member: (inout JSONReader, JSONKey) throws(JSONParseError) -> Void)
    throws(JSONParseError)
  {
    let inner = depth + 1
    try cursor.walkObject(depth: inner, key: { (cursor) throws(JSONParseError) in try cursor.scanKey() }) {
      (cursor, key) throws(JSONParseError) in
      var reader = JSONReader(cursor: cursor, depth: inner)
      // The cursor goes back even when `member` throws: the error's offset is where reading stopped.
      defer { cursor = reader.cursor }
      try member(&reader, key)
    }
  }

  /// Reads an array, calling `element` with the reader on each element, which `element` must consume.
  public mutating func forEachElement(_ element: (inout JSONReader) throws(JSONParseError) -> Void)
    throws(JSONParseError)
  {
    let inner = depth + 1
    try cursor.walkArray(depth: inner) { (cursor) throws(JSONParseError) in
      var reader = JSONReader(cursor: cursor, depth: inner)
      defer { cursor = reader.cursor }
      try element(&reader)
    }
  }

  /// Reads the value at the reader as a tree.
  public mutating func readValue() throws(JSONParseError) -> JSONValue {
    try cursor.parseValue(depth: depth)
  }

  /// Reads a string; fails when the value is not one.
  public mutating func readString() throws(JSONParseError) -> String {
    guard cursor.current == UInt8(ascii: "\"") else { throw cursor.error("expected a string") }
    return try cursor.parseString()
  }

  /// Reads the value at the reader: its text when it is a string, else nil (what `readValue().stringValue`
  /// gives, without a tree for a string). When the string is `known` written plainly (ASCII, no escapes), it
  /// hands back `known` itself: a value that repeats (a stream's `id` in every chunk) is compared as bytes, not
  /// made a new `String`.
  public mutating func readStringValue(reusing known: String? = nil) throws(JSONParseError) -> String? {
    guard cursor.current == UInt8(ascii: "\"") else {
      try skipValue()
      return nil
    }
    // A string value reads as a key does: the same checks, and bytes when nothing needs decoding.
    let value = try cursor.scanKey()
    if let known, value.isPlain(known) { return known }
    return value.text
  }

  /// Reads the value at the reader: true when it is the string `literal` (escapes decoded), false for any
  /// other value. A plain ASCII string is compared as bytes, never made a `String`.
  public mutating func readString(is literal: StaticString) throws(JSONParseError) -> Bool {
    guard cursor.current == UInt8(ascii: "\"") else {
      try skipValue()
      return false
    }
    // A string value reads as a key does: the same checks, and bytes when nothing needs decoding.
    return try cursor.scanKey() == literal
  }

  /// Reads and drops the value at the reader, validating it exactly as the parser would (without building it).
  public mutating func skipValue() throws(JSONParseError) {
    try cursor.skipParsedValue(depth: depth)
  }

  /// An error at the reader's position, for a caller that refuses what it read.
  public func error(_ message: String) -> JSONParseError { cursor.error(message) }
}

// MARK: Pulling containers and values without a closure or a tree

extension JSONReader {
  /// Opens the object at the reader: its members then come one at a time from ``nextMember()``, until it answers
  /// nil after the closing brace. Fails as ``forEachMember(_:)`` does when the value is not an object.
  public mutating func enterObject() throws(JSONParseError) { try enter(UInt8(ascii: "{"), "object") }

  /// Opens the array at the reader: ``nextElement()`` then says whether an element follows.
  public mutating func enterArray() throws(JSONParseError) { try enter(UInt8(ascii: "["), "array") }

  private mutating func enter(_ bracket: UInt8, _ container: StaticString) throws(JSONParseError) {
    let inner = depth + 1
    guard inner <= cursor.maxDepth else { throw cursor.error("nesting deeper than \(cursor.maxDepth) levels") }
    guard cursor.current == bracket else {
      throw cursor.error("expected an \(container), found \(cursor.describeCurrent())")
    }
    cursor.position += 1
    cursor.skipSpace()
    depth = inner
    entered = true
  }

  /// The key of the entered object's next member, the reader then on its value, which the caller must consume
  /// (read or skip) before asking again; nil after the object's closing brace, the reader then after the object.
  public mutating func nextMember() throws(JSONParseError) -> JSONName? {
    // Compact JSON (nearly every answer): a comma right after the value, then a plain key. Else back to the comma,
    // for the general way.
    if !entered, cursor.current == UInt8(ascii: ",") {
      cursor.position += 1
      if let key = cursor.compactPlainName() { return key }
      cursor.position -= 1
    }
    if try closes(UInt8(ascii: "}"), expected: "expected ',' or '}' after object member") { return nil }
    if let key = cursor.compactPlainName() { return key }
    try cursor.expectKey()
    let key = try cursor.scanName()
    try cursor.expectColon()
    return key
  }

  /// Whether the entered array has another element, the reader then on it (which the caller must consume before
  /// asking again); false after the closing bracket, the reader then after the array.
  public mutating func nextElement() throws(JSONParseError) -> Bool {
    try !closes(UInt8(ascii: "]"), expected: "expected ',' or ']' after array element")
  }

  /// The grammar between a container's entries, the walks' own (``JSONCursor/continueContainer(_:expected:)``):
  /// whether the container ends here (consumed, and left) rather than having another entry.
  private mutating func closes(_ bracket: UInt8, expected: StaticString) throws(JSONParseError) -> Bool {
    if entered {
      // Right after the opening bracket: the container is empty, or its first entry is here.
      entered = false
      guard cursor.current == bracket else { return false }
      cursor.position += 1
    } else {
      cursor.skipSpace()
      if try cursor.continueContainer(bracket, expected: expected) { return false }
    }
    depth -= 1
    return true
  }

  /// Reads the value at the reader: what `readValue().clampedInteger(in: range)` gives (nil for anything but a
  /// number), without a tree for a short integer.
  public mutating func readInteger(clampedTo range: ClosedRange<Int64>) throws(JSONParseError) -> Int64? {
    guard let number = try cursor.scanShortInteger() else { return try readValue().clampedInteger(in: range) }
    return BoundedInteger.clamping(number, to: range)
  }

  /// Reads the value at the reader when it is a string: the offsets of its body in the document when
  /// ``JSONWriter`` writes its text as those very bytes (ASCII, nothing escaped there or by the writer: no
  /// control byte, DEL, quote or backslash), else its text; nil for any other value (read and dropped).
  public mutating func readStringBody() throws(JSONParseError) -> JSONStringBody? {
    guard cursor.current == UInt8(ascii: "\"") else {
      try skipValue()
      return nil
    }
    if let end = cursor.plainWrittenStringEnd() {
      defer { cursor.position = end + 1 }
      return .verbatim(cursor.position + 1..<end)
    }
    return .text(try cursor.parseString())
  }

  /// Reads the value at the reader as ``readStringValue(reusing:)`` reads it, but hands it over as a name: a plain
  /// ASCII string is compared with literals as bytes and never made a `String`; nil for any other value.
  public mutating func readStringName() throws(JSONParseError) -> JSONName? {
    guard cursor.current == UInt8(ascii: "\"") else {
      try skipValue()
      return nil
    }
    return try cursor.scanName()
  }
}

/// A member's name (or a string value) as the pulled walk hands it over: where its body is in the document,
/// compared with a literal as bytes when written plainly (ASCII, no escapes, no control byte or DEL: every key of
/// an API body), else decoded for the comparison. Nothing to release: a walk makes one per member. Valid while the document's bytes
/// are.
public struct JSONName {
  /// The body between the quotes, as written.
  @usableFromInline let bytes: UnsafeBufferPointer<UInt8>
  /// Whether the body is its text: ASCII without escapes (nor a DEL).
  public let isPlain: Bool

  init(bytes: UnsafeBufferPointer<UInt8>, isPlain: Bool) {
    self.bytes = bytes
    self.isPlain = isPlain
  }

  /// The name as text.
  public var text: String {
    guard !isPlain, let base = bytes.baseAddress else { return String(decoding: bytes, as: UTF8.self) }
    // The quotes around the body are the document's: decoded again as the scan that checked it decoded it.
    var cursor = JSONCursor(
      buffer: UnsafeBufferPointer(start: base - 1, count: bytes.count + 2), maxDepth: 1, syntax: .strict)
    return (try? cursor.parseString()) ?? ""
  }

  /// Whether the name is `literal`. Inlinable: a `switch` over a name compares it with each case in turn.
  @inlinable @inline(__always) public static func == (name: JSONName, literal: StaticString) -> Bool {
    guard name.isPlain else { return name.decodedEquals(literal) }
    let count = literal.utf8CodeUnitCount
    guard name.bytes.count == count, let base = name.bytes.baseAddress else { return count == 0 }
    // Eight bytes at a time, the last eight overlapping the ones before (a name is one or two words).
    guard count >= 8 else { return name.bytes.holds(exactly: literal) }
    let (own, expected) = (UnsafeRawPointer(base), UnsafeRawPointer(literal.utf8Start))
    var offset = 0
    while offset < count - 8 {
      guard
        own.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
          == expected.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
      else { return false }
      offset += 8
    }
    return own.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
      == expected.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
  }

  @usableFromInline func decodedEquals(_ literal: StaticString) -> Bool {
    text.utf8.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  /// Lets a `switch` over a name match literals.
  @inlinable @inline(__always) public static func ~= (literal: StaticString, name: JSONName) -> Bool {
    name == literal
  }
}

/// A string value as ``JSONReader/readStringBody()`` reads it.
public enum JSONStringBody: Sendable, Equatable {
  /// The offsets in the document of a body that is exactly what the writer writes for its text.
  case verbatim(Range<Int>)
  /// The decoded text of any other string.
  case text(String)
}

extension JSONCursor {
  /// ``parseValue(depth:)`` without the value: the same bytes accepted, the same errors, no tree (a string's text
  /// is made only when it has escapes or is not ASCII, to check it as the parser does).
  mutating func skipParsedValue(depth: Int) throws(JSONParseError) {
    switch current {
    case UInt8(ascii: "{"):
      try walkObject(depth: depth + 1, key: { (cursor) throws(JSONParseError) in try cursor.scanKey() }) {
        (cursor, _) throws(JSONParseError) in try cursor.skipParsedValue(depth: depth + 1)
      }
    case UInt8(ascii: "["):
      try walkArray(depth: depth + 1) { (cursor) throws(JSONParseError) in try cursor.skipParsedValue(depth: depth + 1)
      }
    case UInt8(ascii: "\""): _ = try scanKey()
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let start = position
      _ = try scanNumber()
      // The parser refuses a number whose double is infinite: only an exponent or over 308 digits makes one.
      if position - start > 308 || buffer[start..<position].contains(where: Self.isExponent) {
        position = start
        _ = try parseValue(depth: depth)
      }
    default: _ = try parseValue(depth: depth)
    }
  }

  private static func isExponent(_ byte: UInt8) -> Bool { byte | 0x20 == UInt8(ascii: "e") }

  /// At a number: its value when it is an integer of at most 18 digits (which always fits `Int64`), the cursor
  /// after it; else nil, the cursor unmoved (to be parsed as the parser parses it).
  mutating func scanShortInteger() throws(JSONParseError) -> Int64? {
    let start = position
    let negative = current == UInt8(ascii: "-")
    let first = negative ? start + 1 : start
    var index = first
    var magnitude: Int64 = 0
    // At most 19 digits read (wrapping, never trapping): a 19th one sends the number the parser's way.
    while index < buffer.count, index - first < 19 {
      let digit = buffer[index] &- UInt8(ascii: "0")
      guard digit < 10 else { break }
      magnitude = magnitude &* 10 &+ Int64(digit)
      index += 1
    }
    let digits = index - first
    // No digit, a leading zero before another, a fraction, an exponent or more digits: the parser's way.
    guard digits > 0, digits <= 18, digits == 1 || buffer[first] != UInt8(ascii: "0"),
      index == buffer.count || !Self.continuesNumber(buffer[index])
    else { return nil }
    position = index
    return negative ? -magnitude : magnitude
  }

  private static func continuesNumber(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): true
    default: false
    }
  }

  /// At a string's opening quote: the index of its closing quote when its body is ASCII without anything the
  /// scanner stops at or the writer escapes (so that the body is the writer's spelling of the text), else nil.
  func plainWrittenStringEnd() -> Int? {
    let raw = UnsafeRawBufferPointer(buffer)
    var index = ByteWord.skipUnmarked(raw, from: position + 1, to: buffer.count) { word in
      JSONStringBytes.escapeMarks(word) | word & ByteWord.highBits
    }
    while index < buffer.count {
      let byte = buffer[index]
      if byte == UInt8(ascii: "\"") { return index }
      if byte < 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\\") { return nil }
      index += 1
    }
    return nil
  }

  /// At a member's key written plainly and compactly (nearly every key of an API answer): its opening quote, a body
  /// that ``plainWrittenStringEnd()`` takes as plain, found a word at a time with at least eight bytes left, then the
  /// colon right after the closing quote. Its name, the cursor after the colon and any whitespace: where
  /// `expectKey`, ``scanName()`` and `expectColon` leave it, in one pass without their calls and checks. Else nil,
  /// the cursor unmoved, for their way.
  @inline(__always) mutating func compactPlainName() -> JSONName? {
    let open = position
    guard open < buffer.count, buffer[open] == UInt8(ascii: "\""), let base = buffer.baseAddress else { return nil }
    let raw = UnsafeRawBufferPointer(buffer)
    var index = open + 1
    // The first mark is exact (``ByteWord``): a quote there has only plain bytes before it.
    while buffer.count - index >= 8 {
      let word = ByteWord.load(raw, at: index)
      if let offset = ByteWord.first(JSONStringBytes.escapeMarks(word) | word & ByteWord.highBits) {
        let end = index + offset
        guard buffer[end] == UInt8(ascii: "\""), end + 1 < buffer.count, buffer[end + 1] == UInt8(ascii: ":") else {
          return nil
        }
        position = end + 2
        skipSpace()
        return JSONName(bytes: UnsafeBufferPointer(start: base + open + 1, count: end - open - 1), isPlain: true)
      }
      index += 8
    }
    return nil
  }

  /// ``scanKey()`` handing over where the key is rather than its text.
  mutating func scanName() throws(JSONParseError) -> JSONName {
    let open = position
    if let end = plainWrittenStringEnd() {
      position = end + 1
      return JSONName(bytes: UnsafeBufferPointer(rebasing: buffer[(open + 1)..<end]), isPlain: true)
    }
    // Checked (or refused) as the parser checks it; decoded again only when compared.
    _ = try parseString()
    return JSONName(bytes: UnsafeBufferPointer(rebasing: buffer[(open + 1)..<(position - 1)]), isPlain: false)
  }

  /// ``skipWhitespace()`` without a call where there is none (compact JSON: between nearly all tokens).
  @inline(__always) mutating func skipSpace() {
    if position < buffer.count, buffer[position] <= 0x20 { skipWhitespace() }
  }
}

/// An object member's name as ``JSONReader`` hands it over: compared with a literal (`case "choices":`) without
/// becoming a `String` when it is plain ASCII without escapes. Valid only inside the member's closure.
public struct JSONKey {
  /// The key's bytes between the quotes, when they need no decoding.
  @usableFromInline let bytes: UnsafeBufferPointer<UInt8>?
  /// The decoded key otherwise.
  @usableFromInline let decoded: String?

  init(bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
    self.decoded = nil
  }

  init(text: String) {
    self.bytes = nil
    self.decoded = text
  }

  /// The key as text.
  public var text: String { decoded ?? bytes.map { String(decoding: $0, as: UTF8.self) } ?? "" }

  /// Whether the key is `literal`. Inlinable: a `switch` over a key compares it with each case in turn, and a
  /// call per comparison cost more than the comparison.
  @inlinable @inline(__always) public static func == (key: JSONKey, literal: StaticString) -> Bool {
    guard let bytes = key.bytes else {
      let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
      return key.decoded?.utf8.elementsEqual(expected) ?? false
    }
    return bytes.holds(exactly: literal)
  }

  /// Whether the key was written plainly: ASCII, without escapes (so that comparing its bytes is comparing it as
  /// a `String`).
  public var isPlain: Bool { bytes != nil }

  /// Whether the key was written as `text`'s own bytes, without escapes (false for a key that needed decoding,
  /// even one that decodes to `text`).
  func isPlain(_ text: String) -> Bool {
    guard let bytes, text.utf8.count == bytes.count else { return false }
    // A byte loop over contiguous storage: the UTF-8 view's generic `elementsEqual` cost more than a new String.
    return text.utf8.withContiguousStorageIfAvailable { own in
      for index in 0..<own.count where bytes[index] != own[index] { return false }
      return true
    } ?? false
  }

  /// Lets a `switch` over a key match literals.
  @inlinable @inline(__always) public static func ~= (literal: StaticString, key: JSONKey) -> Bool { key == literal }
}
