import Testing

@testable import RouteSpec

@Suite struct SHA256Tests {
  /// The FIPS 180-2 appendix B messages, plus lengths on either side of the padding boundaries
  /// (55 bytes still fit the length in one block, 56 do not; 64 fill a block exactly).
  @Test(arguments: [
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
    (
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    ),
    (String(repeating: "a", count: 55), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
    (String(repeating: "a", count: 56), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
    (String(repeating: "a", count: 63), "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
    (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
    (String(repeating: "a", count: 65), "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
    (String(repeating: "a", count: 119), "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
    ("h\u{E9}llo \u{2713}", "5657cdef8a85a584e0e961e6f8247cf5d3f8ed21496ed6fdbcfd43a761e94245"),
  ])
  func knownVectors(_ input: String, _ digest: String) {
    #expect(SHA256.hexDigest(input) == digest)
  }

  @Test func oneMillionAs() {
    #expect(
      SHA256.hexDigest(String(repeating: "a", count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func hashesRawBytesToThirtyTwoBytes() {
    let digest = SHA256.hash((0...255).map { UInt8($0) })
    #expect(digest.count == 32)
    #expect(digest.prefix(4) == [0x40, 0xaf, 0xf2, 0xe9])
    // Any sequence works, not only arrays, and gives the same digest as the same bytes in an array.
    #expect(SHA256.hash("abc".utf8) == SHA256.hash([0x61, 0x62, 0x63]))
  }
}
