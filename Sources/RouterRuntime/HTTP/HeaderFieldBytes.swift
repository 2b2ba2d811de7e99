import RouteSpec

/// Header fields kept as the bytes they arrived in: every name and value back to back in one array, with where
/// each ends. A parsed head costs two allocations rather than two `String`s per field; a name or a value becomes a
/// `String` only when something reads it (invalid UTF-8 repaired then, as `String(decoding:as:)` repairs it).
///
/// Requests' ``HTTPHeaders`` and backends' ``UpstreamHeaders`` both keep their fields in one.
struct HeaderFieldBytes: Sendable, Equatable {
  /// Where one field's name and value end in `bytes`; its name starts where the field before it ended.
  private struct Ends: Sendable, Equatable {
    let name: Int
    let value: Int
  }

  private var bytes: [UInt8] = []
  private var ends: [Ends] = []

  /// No fields.
  init() {}

  /// No fields yet, with room for `fields` fields of `byteCount` bytes in all (a parser knows both bounds).
  init(reservingBytes byteCount: Int, fields: Int) {
    bytes.reserveCapacity(max(0, byteCount))
    ends.reserveCapacity(max(0, fields))
  }

  /// The number of fields.
  var count: Int { ends.count }

  /// Adds a field from its bytes.
  mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
    bytes.append(bytes: name)
    let nameEnd = bytes.count
    bytes.append(bytes: value)
    ends.append(Ends(name: nameEnd, value: bytes.count))
  }

  /// Adds a field.
  mutating func append(name: String, value: String) {
    bytes.append(utf8: name)
    let nameEnd = bytes.count
    bytes.append(utf8: value)
    ends.append(Ends(name: nameEnd, value: bytes.count))
  }

  private func nameStart(_ index: Int) -> Int { index == 0 ? 0 : ends[index - 1].value }

  /// The name of field `index` (`0..<count`), as sent.
  func name(at index: Int) -> String {
    String(decoding: bytes[nameStart(index)..<ends[index].name], as: UTF8.self)
  }

  /// The value of field `index` (`0..<count`).
  func value(at index: Int) -> String {
    String(decoding: bytes[ends[index].name..<ends[index].value], as: UTF8.self)
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
  /// with bytes: no field becomes a `String` to be looked at.
  private func forEachIndex(named name: String, _ body: (Int) -> Bool) {
    var name = name
    name.withUTF8 { wanted in
      var start = 0
      for (index, end) in ends.enumerated() {
        defer { start = end.value }
        guard end.name - start == wanted.count else { continue }
        var same = true
        for offset in 0..<wanted.count
        where FieldName.lower(bytes[start + offset]) != FieldName.lower(wanted[offset]) {
          same = false
          break
        }
        if same, !body(index) { return }
      }
    }
  }
}
