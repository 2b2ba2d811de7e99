import RouteSpec

/// Header fields kept as the bytes they arrived in: a parsed head's field lines copied once, with where each
/// name and value is in them. A parsed head costs one allocation and one copy rather than two `String`s (or two
/// appends) per field; a name or a value becomes a `String` only when something reads it (invalid UTF-8 repaired
/// then, as `String(decoding:as:)` repairs it).
///
/// Requests' ``HTTPHeaders`` and backends' ``UpstreamHeaders`` both keep their fields in one. Two are equal when
/// their names and values are, byte for byte and in order (whatever lay between them on the wire).
struct HeaderFieldBytes: Sendable, Equatable {
  /// Where one field's name and value are in the text.
  private struct Field: Sendable {
    let nameStart: Int
    let nameEnd: Int
    let valueStart: Int
    let valueEnd: Int
  }

  private static var fieldBytes: Int { MemoryLayout<Field>.size }

  /// The text (the field lines, or the names and values appended) in `0..<textCount`, then each field's
  /// `Field`, unaligned: one array, so one allocation per parsed head rather than one for each part.
  private var bytes: [UInt8] = []
  private var textCount = 0
  /// The number of fields.
  private(set) var count = 0

  /// No fields.
  init() {}

  /// No fields yet over a copy of `lines`, a head's field lines, with room for `fields` fields: the parser then
  /// adds each with ``appendField(name:value:)``.
  init(copying lines: UnsafeBufferPointer<UInt8>, fields: Int) {
    // The parsers ask for at most 16: the bound only keeps the sum from overflowing.
    bytes.reserveCapacity(lines.count + min(max(0, fields), 1024) * Self.fieldBytes)
    bytes.append(contentsOf: lines)
    textCount = lines.count
  }

  /// Adds the field whose name and value are at `name` and `value` of the lines this was made from (both
  /// within them: the parser's spans are).
  mutating func appendField(name: Range<Int>, value: Range<Int>) {
    let field = Field(
      nameStart: name.lowerBound, nameEnd: name.upperBound, valueStart: value.lowerBound, valueEnd: value.upperBound)
    bytes.append(count: Self.fieldBytes) { target in
      UnsafeMutableRawPointer(target).storeBytes(of: field, as: Field.self)
    }
    count += 1
  }

  /// Adds a field.
  mutating func append(name: String, value: String) {
    // The text goes before the fields' places, which move up (headers built field by field have few).
    let nameStart = textCount
    bytes.insert(contentsOf: name.utf8, at: textCount)
    let nameEnd = nameStart + name.utf8.count
    bytes.insert(contentsOf: value.utf8, at: nameEnd)
    textCount = nameEnd + value.utf8.count
    appendField(name: nameStart..<nameEnd, value: nameEnd..<textCount)
  }

  private func field(at index: Int) -> Field {
    bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: textCount + index * Self.fieldBytes, as: Field.self) }
  }

  private func nameBytes(at index: Int) -> ArraySlice<UInt8> {
    let field = field(at: index)
    return bytes[field.nameStart..<field.nameEnd]
  }

  private func valueBytes(at index: Int) -> ArraySlice<UInt8> {
    let field = field(at: index)
    return bytes[field.valueStart..<field.valueEnd]
  }

  /// The name of field `index` (`0..<count`), as sent.
  func name(at index: Int) -> String { String(decoding: nameBytes(at: index), as: UTF8.self) }

  /// The value of field `index` (`0..<count`).
  func value(at index: Int) -> String { String(decoding: valueBytes(at: index), as: UTF8.self) }

  static func == (left: Self, right: Self) -> Bool {
    guard left.count == right.count else { return false }
    for index in 0..<left.count
    where left.nameBytes(at: index) != right.nameBytes(at: index)
      || left.valueBytes(at: index) != right.valueBytes(at: index)
    {
      return false
    }
    return true
  }

  /// The indices of the fields named `name` in any ASCII case (RFC 9110 5.1), in order.
  func indices(named name: String) -> [Int] {
    var found: [Int] = []
    forEachIndex(named: name) { index in
      found.append(index)
      return true
    }
    return found
  }

  /// The index of the first field named `name` in any ASCII case, nil when there is none.
  func firstIndex(named name: String) -> Int? {
    var found: Int?
    forEachIndex(named: name) { index in
      found = index
      return false
    }
    return found
  }

  /// Calls `body` with the index of each field named `name`, in order, while it returns true. Compares bytes
  /// with bytes, through pointers: no field becomes a `String` to be looked at, and no index is checked twice.
  private func forEachIndex(named name: String, _ body: (Int) -> Bool) {
    var name = name
    name.withUTF8 { wanted in
      bytes.withUnsafeBufferPointer { bytes in
        let fields = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[textCount...])
        for index in 0..<count {
          let field = fields.loadUnaligned(fromByteOffset: index * Self.fieldBytes, as: Field.self)
          // The first byte first: most fields of the same length are other names, and the whole name is
          // compared (out of line) only when it could be this one.
          guard field.nameEnd - field.nameStart == wanted.count,
            wanted.isEmpty || FieldName.lower(bytes[field.nameStart]) == FieldName.lower(wanted[0]),
            FieldName.equal(UnsafeBufferPointer(rebasing: bytes[field.nameStart..<field.nameEnd]), wanted)
          else { continue }
          if !body(index) { return }
        }
      }
    }
  }
}
