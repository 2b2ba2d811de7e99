import RouteSpec
import Testing

@Suite struct UTF8TextTests {
  @Test func acceptsValidUTF8AsItIs() {
    for text in ["", "plain ascii", "é😀\u{0}\u{7F}", "\u{FFFD} a real replacement character", "\u{10FFFF}"] {
      #expect(UTF8Text.validated(Array(text.utf8)) == text)
      #expect(UTF8Text.validated(Array(text.utf8).lazy.map { $0 }) == text)
    }
  }

  @Test func refusesWhatIsNotUTF8() {
    let invalid: [[UInt8]] = [
      [0xFF], [0x61, 0x80], [0xC0, 0xAF],  // stray continuation, overlong
      [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
      [0xF0, 0x90, 0x80],  // a truncated 4-byte sequence: repaired as one 3-byte U+FFFD, same length
      [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
      [0x61, 0xE2, 0x82],  // truncated at the end
      Array(repeating: 0x61, count: 17) + [0xFF] + Array(repeating: 0x62, count: 17),  // past the first words
    ]
    for bytes in invalid {
      #expect(UTF8Text.validated(bytes) == nil, "\(bytes)")
    }
  }
}
