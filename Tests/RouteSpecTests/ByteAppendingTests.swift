import RouteSpec
import Testing

/// The byte writers of heads, answers and events append exactly the text they stand for.
@Suite struct ByteAppendingTests {
  @Test func piecesAreAppendedAsTheirText() {
    var bytes: [UInt8] = Array("x".utf8)
    bytes.append(literal: "HTTP/1.1 ")
    bytes.append(decimal: 404)
    bytes.append(utf8: " Ünïcödé ✓ 😀")
    bytes.append(utf8: "")
    bytes.append(decimal: -17)
    bytes.append(decimal: Int.min)
    bytes.append(decimal: 0)
    bytes.append(decimal: Int.max)
    bytes.append(literal: "\r\n")
    #expect(String(decoding: bytes, as: UTF8.self) == "xHTTP/1.1 404 Ünïcödé ✓ 😀-17\(Int.min)0\(Int.max)\r\n")
  }

  /// Strings stored inline (up to 15 bytes), on the heap, and made from a slice of another all lend their bytes.
  @Test(arguments: ["", "a", "fifteen bytes!!", "sixteen bytes!!!", String(repeating: "é✓", count: 300)])
  func anyStringIsAppendedAsItsUTF8(_ text: String) {
    for piece in [text, String(text.dropFirst()), String(text.utf8.dropFirst(1)) ?? ""] {
      var bytes: [UInt8] = Array("<".utf8)
      bytes.append(utf8: piece)
      #expect(bytes == Array("<".utf8) + Array(piece.utf8))
    }
  }

  @Test(arguments: [0, 1, 9, 10, 15, 16, 255, 256, 4095, 65_536, 1 << 40, Int.max])
  func hexadecimalIsWhatStringSpells(_ count: Int) {
    var bytes: [UInt8] = Array("<".utf8)
    bytes.append(hexadecimal: count)
    bytes.append(literal: ">")
    #expect(String(decoding: bytes, as: UTF8.self) == "<" + String(count, radix: 16) + ">")
  }

  @Test func aNegativeCountIsWrittenAsZero() {
    var bytes: [UInt8] = []
    bytes.append(hexadecimal: -1)
    bytes.append(hexadecimal: Int.min)
    #expect(bytes == Array("00".utf8))
  }

  /// Copies land after what is there, however often the array must grow, and an empty copy adds nothing.
  @Test func copiesGrowTheArrayAndKeepEveryByte() {
    var bytes: [UInt8] = []
    var expected: [UInt8] = []
    for length in 0..<300 {
      let piece = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ length) }
      piece.withUnsafeBufferPointer { bytes.append(bytes: $0) }
      expected += piece
    }
    bytes.append(bytes: UnsafeRawBufferPointer(start: nil, count: 0))
    #expect(bytes == expected)
    #expect(bytes.count == 300 * 299 / 2)
  }

  @Test func hexDigitsAreLowercaseAndIgnoreHighBits() {
    let digits = (0..<16).map { HexDigit.lowercase(UInt8($0)) }
    #expect(String(decoding: digits, as: UTF8.self) == "0123456789abcdef")
    #expect(HexDigit.lowercase(0xAB) == UInt8(ascii: "b"))
  }
}
