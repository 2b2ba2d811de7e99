import Testing

@testable import RouterRuntime

@Suite struct HTTPResponseParserTests {
  func parse(_ text: String, step: Int) -> (status: Int?, body: String, ended: Bool, keepAlive: Bool?, error: String?) {
    var parser = HTTPResponseParser()
    let bytes = Array(text.utf8)
    var status: Int?
    var body: [UInt8] = []
    var ended = false
    var keepAlive: Bool?
    var error: String?
    var index = 0
    while index < bytes.count {
      for event in parser.feed(bytes[index..<min(index + step, bytes.count)]) {
        switch event {
        case .head(let code, _, let alive):
          status = code
          keepAlive = alive
        case .body(let chunk): body += chunk
        case .end: ended = true
        case .error(let message): error = message
        }
      }
      index += step
    }
    for event in parser.endOfStream() {
      if case .end = event { ended = true }
      if case .error(let message) = event { error = message }
    }
    return (status, String(decoding: body, as: UTF8.self), ended, keepAlive, error)
  }

  @Test(arguments: [1, 3, 1000])
  func contentLengthChunkedAndCloseDelimited(step: Int) {
    let fixed = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step: step)
    #expect(fixed.status == 200 && fixed.body == "hello" && fixed.ended && fixed.keepAlive == true)
    let chunked = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", step: step)
    #expect(chunked.body == "abcde" && chunked.ended)
    let closing = parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", step: step)
    #expect(closing.body == "until the end" && closing.ended && closing.keepAlive == false)
    let continued = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", step: step)
    #expect(continued.status == 204 && continued.ended)
  }

  @Test func aCutBodyIsAnErrorNotAnEnd() {
    let cut = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", step: 100)
    #expect(!cut.ended)
    #expect(cut.error != nil)
    #expect(parse("SMTP nonsense\r\n\r\n", step: 5).error != nil)
  }
}
