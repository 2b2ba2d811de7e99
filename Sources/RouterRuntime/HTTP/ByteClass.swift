/// A set of bytes as a 256-bit table built once from a class's predicate: membership is a load and a bit test.
struct ByteClass: Sendable {
  private let words: (UInt64, UInt64, UInt64, UInt64)

  /// The bytes for which `member` is true.
  init(_ member: (UInt8) -> Bool) {
    var words: [UInt64] = [0, 0, 0, 0]
    for byte in UInt8.min...UInt8.max where member(byte) {
      words[Int(byte >> 6)] |= 1 << UInt64(byte & 63)
    }
    self.words = (words[0], words[1], words[2], words[3])
  }

  /// True when `byte` is in the set.
  @inline(__always)
  func contains(_ byte: UInt8) -> Bool {
    let word: UInt64
    switch byte >> 6 {
    case 0: word = words.0
    case 1: word = words.1
    case 2: word = words.2
    default: word = words.3
    }
    return (word >> UInt64(byte & 63)) & 1 != 0
  }
}
