import Testing

@testable import RouteSpec

/// The string scanners (the tree parser's, the reader's key and value scan, and the skipper) move over plain bytes
/// a word at a time. Strings built from pieces whose decoding is known, of every length around a word, put each
/// kind of byte at every offset in a word; every scanner must read them as the pieces say.
@Suite struct JSONStringScanTests {
  /// JSON text of a piece and what it decodes to.
  static let pieces: [(json: String, text: String)] = [
    ("a", "a"), ("Zq9 ", "Zq9 "), ("\u{7F}", "\u{7F}"), ("é", "é"), ("✓", "✓"), ("😀", "😀"),
    (#"\n"#, "\n"), (#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\t"#, "\t"), (#"\u00e9"#, "é"),
    (#"\ud83d\ude00"#, "😀"), ("abcdefgh", "abcdefgh"),
  ]

  /// A fixed sequence of piece lists (a linear congruential generator with a fixed seed): the same cases on
  /// every run.
  static func cases(count: Int) -> [[Int]] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ bound: Int) -> Int {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int((state >> 33) % UInt64(bound))
    }
    return (0..<count).map { _ in (0..<next(26)).map { _ in next(pieces.count) } }
  }

  @Test func everyScannerReadsStringsAsTheirPiecesSay() throws {
    for indices in Self.cases(count: 3000) {
      let json = "\"" + indices.map { Self.pieces[$0].json }.joined() + "\""
      let text = indices.map { Self.pieces[$0].text }.joined()
      #expect(try JSONParser.parse(Array("[\(json)]".utf8)) == .array([.string(text)]), "\(json)")
      let key = try JSONReader.read(Array("{\(json):\(json)}".utf8)) { (reader) throws(JSONParseError) in
        var read: (String, String?) = ("", nil)
        try reader.forEachMember { (reader, key) throws(JSONParseError) in
          read = (key.text, try reader.readStringValue())
        }
        return read
      }
      #expect(key.0 == text && key.1 == text, "\(json)")
      let bytes = Array(json.utf8)
      let skipped = try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) in
        var cursor = JSONCursor(buffer: buffer, maxDepth: 8, syntax: .strict)
        try cursor.skipString()
        return cursor.position
      }
      #expect(skipped == bytes.count, "\(json)")
      // The writer escapes what must be (and DEL) wherever it falls, and its text reads back as the original.
      var written: [UInt8] = []
      JSONWriter.writeString(text, into: &written)
      #expect(!written.contains { $0 < 0x20 || $0 == 0x7F }, "\(json)")
      #expect(try JSONParser.parse(written) == .string(text), "\(json)")
    }
  }

  /// A control byte, a byte that is not UTF-8 and a missing closing quote are refused wherever they fall (the
  /// skipper leaves UTF-8 to whoever reads the bytes).
  @Test func badBytesAreRefusedAtEveryOffset() {
    for indices in Self.cases(count: 600) {
      let body = Array(indices.map { Self.pieces[$0].json }.joined().utf8)
      // Between pieces, never inside an escape or a character.
      var boundaries = [0]
      for index in indices { boundaries.append(boundaries[boundaries.count - 1] + Self.pieces[index].json.utf8.count) }
      for offset in boundaries {
        for (bad, skipperRefuses) in [(UInt8(0x01), true), (UInt8(0xFF), false)] {
          var bytes = Array("[\"".utf8) + body
          bytes.insert(bad, at: 2 + offset)
          bytes += Array("\"]".utf8)
          #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
          let string = Array(bytes.dropFirst().dropLast())
          let skipped = string.withUnsafeBufferPointer { buffer -> Bool in
            var cursor = JSONCursor(buffer: buffer, maxDepth: 8, syntax: .strict)
            return (try? cursor.skipString()) != nil
          }
          #expect(skipped != skipperRefuses, "\(string)")
        }
      }
      #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("[\"".utf8) + body) }
    }
  }

  /// `firstStop` against the rule written out byte by byte, on ``ByteWordTests/words()`` (every word of four
  /// bytes near each boundary at every alignment, and a fixed sequence of mixed words).
  @Test func firstStopIsTheFirstQuoteBackslashOrControlByte() {
    for bytes in ByteWordTests.words() {
      let expected = bytes.firstIndex { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }
      #expect(JSONStringBytes.firstStop(ByteWordTests.word(bytes)) == expected, "\(bytes)")
    }
  }
}
