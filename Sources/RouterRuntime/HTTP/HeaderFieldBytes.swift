import RouteSpec

/// Header fields kept as the bytes they arrived in: a parsed head's field lines copied once, with where each
/// name and value is in them. A parsed head costs two allocations and one copy rather than two `String`s (or two
/// appends) per field; a name or a value becomes a `String` only when something reads it (invalid UTF-8 repaired
/// then, as `String(decoding:as:)` repairs it).
///
/// Requests' ``HTTPHeaders`` and backends' ``UpstreamHeaders`` both keep their fields in one. Two are equal when
/// their names and values are, byte for byte and in order (whatever lay between them on the wire).
struct HeaderFieldBytes: Sendable, Equatable {
  /// Where one field's name and value are in `bytes`.
  private struct Field: Sendable {
    let nameStart: Int
    let nameEnd: Int
    let valueStart: Int
    let valueEnd: Int
  }

  private var bytes: [UInt8] = []
  private var fields: [Field] = []

  /// No fields.
  init() {}

  /// No fields yet over a copy of `lines`, a head's field lines, with room for `fields` fields: the parser then
  /// adds each with ``appendField(name:value:)``.
  init(copying lines: UnsafeBufferPointer<UInt8>, fields: Int) {
    bytes = Array(lines)
    self.fields.reserveCapacity(max(0, fields))
  }

  /// The number of fields.
  var count: Int { fields.count }

  /// Adds the field whose name and value are at `name` and `value` of the lines this was made from (both
  /// within them: the parser's spans are).
  mutating func appendField(name: Range<Int>, value: Range<Int>) {
    fields.append(
      Field(
        nameStart: name.lowerBound, nameEnd: name.upperBound, valueStart: value.lowerBound, valueEnd: value.upperBound))
  }

  /// Adds a field.
  mutating func append(name: String, value: String) {
    let nameStart = bytes.count
    bytes.append(utf8: name)
    let nameEnd = bytes.count
    bytes.append(utf8: value)
    fields.append(Field(nameStart: nameStart, nameEnd: nameEnd, valueStart: nameEnd, valueEnd: bytes.count))
  }

  private func nameBytes(at index: Int) -> ArraySlice<UInt8> { bytes[fields[index].nameStart..<fields[index].nameEnd] }

  private func valueBytes(at index: Int) -> ArraySlice<UInt8> {
    bytes[fields[index].valueStart..<fields[index].valueEnd]
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
        fields.withUnsafeBufferPointer { fields in
          for index in fields.indices {
            let field = fields[index]
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
}
