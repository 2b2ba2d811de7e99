import Testing

@testable import RouterRuntime

/// The byte tables the wire scans use are their classes' predicates, byte for byte, and the one-pass scan
/// judges escapes as RFC 3986 does.
@Suite struct WireGrammarTests {
  @Test func eachTableHoldsExactlyTheBytesItsPredicateAccepts() {
    let classes: [(ByteClass, (UInt8) -> Bool)] = [
      (WireGrammar.tokenBytes, HTTPFraming.isTokenByte), (WireGrammar.targetBytes, WireGrammar.isTargetByte),
      (WireGrammar.urlBytes, WireGrammar.isURLByte), (WireGrammar.fieldValueBytes, HTTPFraming.isFieldValueByte),
    ]
    for (table, predicate) in classes {
      for byte in UInt8.min...UInt8.max {
        #expect(table.contains(byte) == predicate(byte), "byte \(byte)")
      }
    }
  }

  @Test func escapesNeedTwoHexDigitsAndOtherBytesTheirClass() {
    let urls = WireGrammar.urlBytes
    #expect(WireGrammar.holdsOnly(urls, "http://h/a%2Fb%20c?x=%7e", checkingEscapes: true))
    #expect(WireGrammar.holdsOnly(urls, "", checkingEscapes: true))
    for bad in ["/a%", "/a%4", "/a%4g", "/a%%41", "/a b", "/a\r\n", "/é"] {
      #expect(!WireGrammar.holdsOnly(urls, bad, checkingEscapes: true), "\(bad)")
    }
    // Without escape checking a lone `%` is just a byte of the class.
    #expect(WireGrammar.holdsOnly(WireGrammar.tokenBytes, "a%"))
    #expect(!WireGrammar.holdsOnly(WireGrammar.fieldValueBytes, "v\u{7F}"))
    #expect(WireGrammar.holdsOnly(WireGrammar.fieldValueBytes, "v\tw é"))
    // A bridged or otherwise non-contiguous string takes the copying path to the same answer.
    let substring = "xx/a%2F"[...].dropFirst(2)
    #expect(WireGrammar.holdsOnly(urls, String(substring), checkingEscapes: true))
  }
}
