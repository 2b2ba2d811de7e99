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
  private let depth: Int

  private init(cursor: JSONCursor, depth: Int) {
    self.cursor = cursor
    self.depth = depth
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

  /// Reads and drops the value at the reader, validating it exactly as the parser would.
  public mutating func skipValue() throws(JSONParseError) {
    _ = try cursor.parseValue(depth: depth)
  }

  /// An error at the reader's position, for a caller that refuses what it read.
  public func error(_ message: String) -> JSONParseError { cursor.error(message) }
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
