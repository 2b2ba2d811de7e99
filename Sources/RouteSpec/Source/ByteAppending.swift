/// Appending to a byte array in one copy: what every writer of heads, JSON and SSE events uses.
///
/// `append(contentsOf:)` of a buffer costs about a hundred instructions a call (its generic copy goes through the
/// sequence's iterator protocol); these write into the array's spare capacity with one `memcpy`, about two thirds
/// of that, and the array still grows geometrically.
extension [UInt8] {
  /// Appends `count` bytes that `write` puts from the pointer it is given on, in the array's spare room: one
  /// reservation for a writer that joins several pieces (a header line, a quoted JSON run). `write` must write
  /// exactly `count` bytes.
  @inlinable
  public mutating func append(count: Int, writing write: (UnsafeMutablePointer<UInt8>) -> Void) {
    guard count > 0 else { return }
    append(addingCapacity: count) { span in
      span.withUnsafeMutableBufferPointer { spare, initialized in
        // `addingCapacity` guarantees room for `count` more bytes.
        guard let target = spare.baseAddress else { return }
        write(target)
        initialized = count
      }
    }
  }

  /// Appends a copy of `bytes`.
  public mutating func append(bytes: UnsafeRawBufferPointer) {
    guard let source = bytes.baseAddress else { return }
    append(count: bytes.count) { UnsafeMutableRawPointer($0).copyMemory(from: source, byteCount: bytes.count) }
  }

  /// Appends a copy of `bytes`.
  public mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
    append(bytes: UnsafeRawBufferPointer(bytes))
  }

  /// Appends a literal's bytes in one copy: appending its `utf8` view cost about 170 instructions a time, several
  /// times in every streamed event, answer and response head.
  public mutating func append(literal: StaticString) {
    append(bytes: UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  /// Appends `text`'s UTF-8 in one copy from its own buffer, for text known only at run time (a header's name
  /// or value), at the cost of ``append(literal:)`` rather than of the `utf8` view's.
  public mutating func append(utf8 text: String) {
    // A native string lends its bytes where they are (no copy of the string to make it contiguous, nor the
    // retain and release of one).
    if text.utf8.withContiguousStorageIfAvailable({ append(bytes: UnsafeRawBufferPointer($0)) }) != nil { return }
    var text = text
    text.withUTF8 { append(bytes: UnsafeRawBufferPointer($0)) }
  }

  /// Appends `number` in decimal, the digits `String(number)` spells, without making that string.
  public mutating func append(decimal number: Int) {
    JSONWriter.writeInteger(Int64(number), into: &self)
  }

  /// Appends `count` in lowercase hexadecimal without leading zeros (`0` for zero), as an HTTP chunk size is
  /// written, without making a `String`. A count is never negative; a negative one is written as `0`.
  public mutating func append(hexadecimal count: Int) {
    let value = UInt64(Swift.max(0, count))
    // The digits a value needs: one per started nibble, and at least one.
    let digits = Swift.max(1, (64 - value.leadingZeroBitCount + 3) / 4)
    append(addingCapacity: digits) { span in
      for place in stride(from: digits - 1, through: 0, by: -1) {
        span.append(HexDigit.lowercase(UInt8(truncatingIfNeeded: value >> UInt64(place * 4)) & 0xF))
      }
    }
  }
}
