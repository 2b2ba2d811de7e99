import Testing

@testable import RouterRuntime

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
    bytes.append(literal: "\r\n")
    #expect(String(decoding: bytes, as: UTF8.self) == "xHTTP/1.1 404 Ünïcödé ✓ 😀-17\(Int.min)\r\n")
  }

  @Test func aResponseHeadIsWrittenAsSpelled() {
    let head = ServerConnectionMachine.head(
      status: 599, headers: [("x-a", "b c"), ("ümlaut", "ö")], framing: .contentLength(12_345), version: .http10,
      keepAlive: true)
    #expect(
      String(decoding: head, as: UTF8.self)
        == "HTTP/1.0 599 Status 599\r\nx-a: b c\r\nümlaut: ö\r\ncontent-length: 12345\r\nconnection: keep-alive\r\n\r\n"
    )
  }
}
