import Testing

@testable import RouteSpec

/// The eight-bytes-at-once tests against the rules written out byte by byte: `first` of `equal` and `below`
/// is the first matching byte, on words of every four of the bytes near each boundary at every alignment
/// (where a borrow from one byte could mark the next) and on a fixed sequence of mixed words.
@Suite struct ByteWordTests {
  static let interesting: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x5C, 0x7E, 0x7F, 0x80, 0x81, 0xFF]

  static func word(_ bytes: [UInt8]) -> UInt64 {
    bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
  }

  /// Every word of four interesting bytes in a plain background, at each alignment, then 100,000 mixed words.
  static func words() -> [[UInt8]] {
    var words: [[UInt8]] = []
    for a in interesting {
      for b in interesting {
        for c in interesting {
          for d in interesting {
            for shift in 0...4 {
              var bytes = [UInt8](repeating: 0x61, count: 8)
              bytes[shift..<shift + 4] = [a, b, c, d]
              words.append(bytes)
            }
          }
        }
      }
    }
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    for _ in 0..<100_000 {
      var bytes: [UInt8] = []
      for _ in 0..<8 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let pick = Int(truncatingIfNeeded: state >> 33)
        bytes.append(pick % 2 == 0 ? interesting[pick / 2 % interesting.count] : UInt8(truncatingIfNeeded: pick >> 8))
      }
      words.append(bytes)
    }
    return words
  }

  @Test func firstEqualAndFirstBelowAreTheFirstMatchingByte() {
    let words = Self.words()
    #expect(words.count == 12 * 12 * 12 * 12 * 5 + 100_000)
    for bytes in words {
      let word = Self.word(bytes)
      for byte in [UInt8(0x00), 0x0D, 0x22, 0x5C, 0x7F, 0x80, 0xFF] {
        #expect(ByteWord.first(ByteWord.equal(word, byte)) == bytes.firstIndex(of: byte), "\(bytes) = \(byte)")
      }
      for bound in [UInt8(0x01), 0x20, 0x21, 0x7F, 0x80] {
        #expect(ByteWord.first(ByteWord.below(word, bound)) == bytes.firstIndex { $0 < bound }, "\(bytes) < \(bound)")
      }
    }
  }

  @Test func aWordIsLoadedWithItsFirstByteLowest() {
    let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    bytes.withUnsafeBytes { raw in
      #expect(ByteWord.load(raw, at: 0) == 0x0807_0605_0403_0201)
      #expect(ByteWord.load(raw, at: 1) == 0x0908_0706_0504_0302)
    }
  }
}
