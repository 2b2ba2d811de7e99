import Testing

@testable import RouterRuntime

/// A response head is written piece by piece (see `RouteSpecTests/ByteAppendingTests` for the pieces).
@Suite struct ByteAppendingTests {
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
