/// Bytes compared with a literal, byte by byte from the literal's own storage: comparing with a `String`'s
/// `utf8` view goes through its generic iterator, several times the cost, and every request's parsers and front
/// compare a version, a path segment or a method name this way.
extension UnsafeBufferPointer<UInt8> {
  /// Whether these bytes are exactly `literal`'s. Inlinable, as are the others: a `switch` over a JSON key
  /// compares it with each case in turn, and a call per comparison cost more than the comparison.
  @inlinable @inline(__always) public func holds(exactly literal: StaticString) -> Bool {
    guard count == literal.utf8CodeUnitCount else { return false }
    let expected = literal.utf8Start
    for index in 0..<count where self[index] != expected[index] { return false }
    return true
  }

  /// Whether the bytes from `offset` on begin with `literal`'s (false when `offset` is outside `0...count`).
  @inlinable public func starts(with literal: StaticString, at offset: Int) -> Bool {
    let length = literal.utf8CodeUnitCount
    guard offset >= 0, offset <= count, count - offset >= length else { return false }
    let expected = literal.utf8Start
    for index in 0..<length where self[offset + index] != expected[index] { return false }
    return true
  }
}
