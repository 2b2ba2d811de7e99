/// A JSON document as a value, with object members kept in their order.
///
/// Order matters to louter: `dump` output must be stable for diffs, and
/// translated responses keep the field order clients are used to.
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([JSONMember])

  /// The member `key` of an object (first match), or nil.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    // By index, lengths first: a `for member in` loop copies every member it passes (retaining its key and
    // value), and two different strings are compared out of line, while most keys differ in length.
    let length = key.utf8.count
    for index in members.indices where members[index].key.utf8.count == length && members[index].key == key {
      return members[index].value
    }
    return nil
  }

  /// The string payload, or nil.
  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  /// An integral number (also from an integral double such as `40.0`), or nil.
  public var intValue: Int64? { integer(in: Int64.min...Int64.max) }

  /// Any number as a double, or nil.
  public var doubleValue: Double? {
    switch self {
    case .int(let value): Double(value)
    case .double(let value): value
    default: nil
    }
  }

  /// The boolean payload, or nil.
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// The elements of an array, or nil.
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }

  /// The members of an object, or nil.
  public var objectValue: [JSONMember]? {
    if case .object(let value) = self { return value }
    return nil
  }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Sendable, Equatable {
  /// The member name.
  public var key: String
  /// The member value.
  public var value: JSONValue

  /// Creates a member.
  public init(_ key: String, _ value: JSONValue) {
    self.key = key
    self.value = value
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByArrayLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int64) { self = .int(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(nilLiteral: ()) { self = .null }
  public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue {
  /// Builds an object from ordered pairs; a nil value leaves the member out.
  public static func object(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
    .object(pairs.compactMap { pair in pair.value.map { JSONMember(pair.key, $0) } })
  }

  /// Serialises compactly (no spaces), or with two-space indentation when `pretty`.
  public func serialized(pretty: Bool = false) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(256)
    JSONWriter.write(self, into: &out, pretty: pretty, depth: 0)
    return String(decoding: out, as: UTF8.self)
  }

  /// Serialises compactly into bytes.
  public func serializedBytes() -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(256)
    JSONWriter.write(self, into: &out, pretty: false, depth: 0)
    return out
  }
}

/// Appends JSON text to a byte buffer; no Foundation, no intermediate strings.
public enum JSONWriter {
  /// Writes `value` to `out`.
  public static func write(_ value: JSONValue, into out: inout [UInt8], pretty: Bool, depth: Int) {
    switch value {
    case .null: out.append(literal: "null")
    case .bool(let flag): out.append(literal: flag ? "true" : "false")
    case .int(let number): writeInteger(number, into: &out)
    case .double(let number): writeDouble(number, into: &out)
    case .string(let text): writeString(text, into: &out)
    case .array(let elements):
      if elements.isEmpty {
        out.append(literal: "[]")
        return
      }
      out.append(UInt8(ascii: "["))
      for (index, element) in elements.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        if pretty { newline(into: &out, depth: depth + 1) }
        write(element, into: &out, pretty: pretty, depth: depth + 1)
      }
      if pretty { newline(into: &out, depth: depth) }
      out.append(UInt8(ascii: "]"))
    case .object(let members):
      if members.isEmpty {
        out.append(literal: "{}")
        return
      }
      out.append(UInt8(ascii: "{"))
      for (index, member) in members.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        if pretty { newline(into: &out, depth: depth + 1) }
        writeString(member.key, into: &out)
        out.append(UInt8(ascii: ":"))
        if pretty { out.append(UInt8(ascii: " ")) }
        write(member.value, into: &out, pretty: pretty, depth: depth + 1)
      }
      if pretty { newline(into: &out, depth: depth) }
      out.append(UInt8(ascii: "}"))
    }
  }

  private static func newline(into out: inout [UInt8], depth: Int) {
    out.append(UInt8(ascii: "\n"))
    for _ in 0..<(depth * 2) { out.append(UInt8(ascii: " ")) }
  }

  /// Writes an integer in decimal, as `String(number)` spells it, without making that string.
  public static func writeInteger(_ number: Int64, into out: inout [UInt8]) {
    let length = integerLength(number)
    // All of it in one reservation: an `append` per digit checks the array's uniqueness and room every time.
    out.append(count: length) { writeInteger(number, length: length, at: $0) }
  }

  /// How many bytes ``writeInteger(_:into:)`` writes for `number`: its digits, and a sign when negative.
  public static func integerLength(_ number: Int64) -> Int {
    var digits = 1
    var rest = number.magnitude / 10
    while rest > 0 {
      digits += 1
      rest /= 10
    }
    return number < 0 ? digits + 1 : digits
  }

  /// Writes `number` as ``writeInteger(_:into:)`` spells it to `target`, `length` (its ``integerLength(_:)``)
  /// bytes: for a writer that sized its buffer up front.
  public static func writeInteger(_ number: Int64, length: Int, at target: UnsafeMutablePointer<UInt8>) {
    if number < 0 { target.pointee = UInt8(ascii: "-") }
    // The digits from the last, at their places.
    var magnitude = number.magnitude
    var place = length
    repeat {
      place -= 1
      target[place] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
      magnitude /= 10
    } while magnitude > 0
  }

  /// Writes a double in its shortest round-trip form; JSON has no inf or nan, so those become null.
  public static func writeDouble(_ number: Double, into out: inout [UInt8]) {
    guard number.isFinite else {
      out.append(literal: "null")
      return
    }
    if number == number.rounded(), abs(number) < 1e15 {
      writeInteger(Int64(number), into: &out)
      if number == 0, number.sign == .minus { return }
      out.append(literal: ".0")
      return
    }
    out.append(contentsOf: number.description.utf8)
  }

  /// Writes a quoted, escaped JSON string.
  public static func writeString(_ text: String, into out: inout [UInt8]) {
    // A native string lends its UTF-8 in place; anything else is made contiguous first.
    if text.utf8.withContiguousStorageIfAvailable({ writeString(utf8: $0, into: &out) }) != nil { return }
    var text = text
    text.withUTF8 { writeString(utf8: $0, into: &out) }
  }

  /// Writes `bytes` (UTF-8) as a quoted, escaped JSON string: each run of bytes that need no escape in one copy,
  /// the quotes with the first and last runs (a string without escapes is one copy in all), rather than byte by
  /// byte (this writer serialises every translated request and answer).
  private static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
    var runStart = 0
    var index = 0
    var opened = false
    let raw = UnsafeRawBufferPointer(bytes)
    while index < bytes.count {
      // Eight bytes at a time up to the next byte that may need an escape (nearly all text has none).
      index = ByteWord.skipUnmarked(raw, from: index, to: bytes.count, JSONStringBytes.escapeMarks)
      guard index < bytes.count else { break }
      if needsEscape(bytes[index]) {
        appendRun(UnsafeBufferPointer(rebasing: bytes[runStart..<index]), opening: !opened, closing: false, to: &out)
        opened = true
        writeEscaped(bytes[index], into: &out)
        runStart = index + 1
      }
      index += 1
    }
    appendRun(UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]), opening: !opened, closing: true, to: &out)
  }

  /// Appends `run` after an opening quote, before a closing one, or both, in one copy.
  private static func appendRun(
    _ run: UnsafeBufferPointer<UInt8>, opening: Bool, closing: Bool, to out: inout [UInt8]
  ) {
    out.append(count: run.count + (opening ? 1 : 0) + (closing ? 1 : 0)) { start in
      var cursor = start
      if opening {
        cursor.pointee = UInt8(ascii: "\"")
        cursor += 1
      }
      if let source = run.baseAddress {
        cursor.update(from: source, count: run.count)
        cursor += run.count
      }
      if closing { cursor.pointee = UInt8(ascii: "\"") }
    }
  }

  /// Whether `byte` must be escaped inside a JSON string as this writer writes them.
  private static func needsEscape(_ byte: UInt8) -> Bool {
    byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
  }

  /// The escape of one byte for which ``needsEscape(_:)`` holds.
  private static func writeEscaped(_ byte: UInt8, into out: inout [UInt8]) {
    switch byte {
    case UInt8(ascii: "\""): out.append(literal: "\\\"")
    case UInt8(ascii: "\\"): out.append(literal: "\\\\")
    case 0x0A: out.append(literal: "\\n")
    case 0x0D: out.append(literal: "\\r")
    case 0x09: out.append(literal: "\\t")
    case 0x08: out.append(literal: "\\b")
    case 0x0C: out.append(literal: "\\f")
    case 0x00..<0x20, 0x7F:
      out.append(literal: "\\u00")
      out.append(HexDigit.lowercase(byte >> 4))
      out.append(HexDigit.lowercase(byte))
    default: out.append(byte)
    }
  }
}
