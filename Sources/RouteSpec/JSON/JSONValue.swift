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

  /// Room made for escapes beyond a string's own length (each adds one to five bytes); when they use it up,
  /// more is made.
  private static let escapeRoom = 64

  /// Writes `bytes` (UTF-8) as a quoted, escaped JSON string straight into the array's spare room, made for the
  /// rest of the string, its quotes and ``escapeRoom`` at a time: each run of bytes that need no escape in one
  /// copy, each escape written in place (a string without escapes is one copy in all). Appending each run and
  /// each escape apart cost a long prompt with a newline per line over a hundred instructions a line.
  private static func writeString(utf8 bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
    if nextEscape(in: bytes, from: 0) == bytes.count {
      // No escape: the quotes and the bytes in one exact reservation.
      out.append(count: bytes.count + 2) { target in
        target[0] = UInt8(ascii: "\"")
        if let source = bytes.baseAddress { (target + 1).update(from: source, count: bytes.count) }
        target[bytes.count + 1] = UInt8(ascii: "\"")
      }
      return
    }
    var index = 0
    var opened = false
    var closed = false
    repeat {
      out.append(addingCapacity: bytes.count - index + 2 + escapeRoom) { span in
        span.withUnsafeMutableBufferPointer { spare, initialized in
          guard let target = spare.baseAddress else {
            // Unreachable (the room is never empty); ends the loop rather than spinning.
            closed = true
            return
          }
          var cursor = 0
          if !opened {
            target[0] = UInt8(ascii: "\"")
            cursor = 1
            opened = true
          }
          while true {
            let stop = nextEscape(in: bytes, from: index)
            // What follows the run (an escape of at most six bytes, or the closing quote) and the rest of the
            // string as it is must still fit; a fresh room always holds that much, so each round makes progress.
            guard cursor + (stop - index) + 6 + (bytes.count - stop) + 1 <= spare.count else { break }
            if let source = bytes.baseAddress, stop > index {
              (target + cursor).update(from: source + index, count: stop - index)
              cursor += stop - index
            }
            guard stop < bytes.count else {
              target[cursor] = UInt8(ascii: "\"")
              cursor += 1
              closed = true
              break
            }
            cursor += writeEscaped(bytes[stop], at: target + cursor)
            index = stop + 1
          }
          initialized = cursor
        }
      }
    } while !closed
  }

  /// The index of the first byte at or after `index` that needs an escape, or the end of `bytes`: eight bytes at
  /// a time while eight are left (nearly all text has no escape), then one at a time.
  @inline(__always)
  private static func nextEscape(in bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
    var index = ByteWord.skipUnmarked(
      UnsafeRawBufferPointer(bytes), from: index, to: bytes.count, JSONStringBytes.escapeMarks)
    while index < bytes.count, !needsEscape(bytes[index]) { index += 1 }
    return index
  }

  /// Whether `byte` must be escaped inside a JSON string as this writer writes them.
  private static func needsEscape(_ byte: UInt8) -> Bool {
    byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
  }

  /// Writes the escape of one byte for which ``needsEscape(_:)`` holds at `target` (room for six bytes); returns
  /// its length.
  private static func writeEscaped(_ byte: UInt8, at target: UnsafeMutablePointer<UInt8>) -> Int {
    target[0] = UInt8(ascii: "\\")
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"): target[1] = byte
    case 0x0A: target[1] = UInt8(ascii: "n")
    case 0x0D: target[1] = UInt8(ascii: "r")
    case 0x09: target[1] = UInt8(ascii: "t")
    case 0x08: target[1] = UInt8(ascii: "b")
    case 0x0C: target[1] = UInt8(ascii: "f")
    case 0x00..<0x20, 0x7F:
      target[1] = UInt8(ascii: "u")
      target[2] = UInt8(ascii: "0")
      target[3] = UInt8(ascii: "0")
      target[4] = HexDigit.lowercase(byte >> 4)
      target[5] = HexDigit.lowercase(byte)
      return 6
    default:
      target[0] = byte
      return 1
    }
    return 2
  }
}
