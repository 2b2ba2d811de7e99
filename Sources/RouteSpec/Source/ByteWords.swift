/// Eight bytes tested at once (SWAR), for the scanners that skip plain runs of bytes: the JSON string scanners
/// and writer, and the HTTP head and field-value scans.
///
/// Each test is the usual zero-byte one, `x - 0x01… & ~x` (for ``below(_:_:)`` its below-n form), and marks the
/// high bit of the bytes it matches. A borrow can only mark bytes above a true match, so whether a word has a
/// match is exact, and so is its lowest mark: ``first(_:)`` is the first matching byte. Words are loaded with
/// their first byte lowest (``load(_:at:)``) on any host.
public enum ByteWord {
  /// The high bit of every byte: where the tests put their marks.
  public static let highBits: UInt64 = 0x8080_8080_8080_8080
  @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101

  /// The eight bytes at `offset` (at least eight must be there), the first in the lowest bits.
  @inlinable @inline(__always)
  public static func load(_ raw: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
    UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// Marks the bytes equal to `byte`.
  @inlinable @inline(__always)
  public static func equal(_ word: UInt64, _ byte: UInt8) -> UInt64 {
    let difference = word ^ (ones &* UInt64(byte))
    return (difference &- ones) & ~difference & highBits
  }

  /// Marks the bytes below `bound`, which must be at most 0x80.
  @inlinable @inline(__always)
  public static func below(_ word: UInt64, _ bound: UInt8) -> UInt64 {
    (word &- ones &* UInt64(bound)) & ~word & highBits
  }

  /// The offset (0...7) of the first marked byte, nil when none is.
  @inlinable @inline(__always)
  public static func first(_ marks: UInt64) -> Int? {
    marks == 0 ? nil : marks.trailingZeroBitCount &>> 3
  }

  /// From `index`, eight bytes at a time while eight are left before `end`: the index of the first byte `marks`
  /// marks, else where fewer than eight are left (at most `end`), for the caller to read one at a time.
  @inlinable @inline(__always)
  public static func skipUnmarked(
    _ raw: UnsafeRawBufferPointer, from index: Int, to end: Int, _ marks: (UInt64) -> UInt64
  ) -> Int {
    var index = index
    while end - index >= 8 {
      if let offset = first(marks(load(raw, at: index))) { return index + offset }
      index += 8
    }
    return index
  }
}
