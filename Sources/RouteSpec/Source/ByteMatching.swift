/// Bytes compared with a literal, byte by byte from the literal's own storage: comparing with a `String`'s
/// `utf8` view goes through its generic iterator, several times the cost, and every request's parsers and front
/// compare a version, a path segment or a method name this way.
extension UnsafeBufferPointer<UInt8> {
  /// Whether these bytes are exactly `literal`'s.
  public func holds(exactly literal: StaticString) -> Bool {
    count == literal.utf8CodeUnitCount && starts(with: literal, at: 0)
  }

  /// Whether the bytes from `offset` on begin with `literal`'s (false when `offset` is outside `0...count`).
  public func starts(with literal: StaticString, at offset: Int) -> Bool {
    let length = literal.utf8CodeUnitCount
    guard offset >= 0, offset <= count, count - offset >= length else { return false }
    let expected = literal.utf8Start
    for index in 0..<length where self[offset + index] != expected[index] { return false }
    return true
  }
}
