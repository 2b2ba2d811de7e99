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

  /// The 200 status line written whole is the one composed from its parts.
  @Test(arguments: [HTTPVersion.http11, .http10])
  func theOKStatusLineIsTheComposedOne(_ version: HTTPVersion) {
    let head = ServerConnectionMachine.head(
      status: 200, headers: [], framing: .closeDelimited, version: version, keepAlive: false)
    let composed = "HTTP/\(version == .http11 ? "1.1" : "1.0") 200 \(HTTPStatus.reason(200))\r\n"
    #expect(String(decoding: head, as: UTF8.self) == composed + "connection: close\r\n\r\n")
  }
}
