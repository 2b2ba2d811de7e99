import Testing

@testable import RouterRuntime

/// A 200's head is written in one reservation, every other status's piece by piece: both against a head composed
/// as text from its parts, for seeded headers of every kind (empty, long, non-ASCII), every framing, both
/// versions, kept alive or not.
@Suite struct RequestPathResponseHeadTests {
  static func composed(
    status: Int, headers: [(String, String)], framing: ServerConnectionMachine.BodyDelimiting, version: HTTPVersion,
    keepAlive: Bool
  ) -> String {
    var text = "HTTP/\(version == .http11 ? "1.1" : "1.0") \(status) \(HTTPStatus.reason(status))\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    switch framing {
    case .contentLength(let count): text += "content-length: \(count)\r\n"
    case .chunked: text += "transfer-encoding: chunked\r\n"
    case .closeDelimited: break
    }
    if !keepAlive {
      text += "connection: close\r\n"
    } else if version == .http10 {
      text += "connection: keep-alive\r\n"
    }
    return text + "\r\n"
  }

  @Test func headsAreTheirComposedText() {
    var random = SeededGenerator(state: 0x4EAD)
    let texts = [
      "", "x", "content-type", "application/json; charset=UTF-8", "é", "x-request-id",
      String(repeating: "long-value-", count: 40), "日本", "\u{1F600}",
    ]
    for _ in 0..<5_000 {
      let status = [200, 200, 200, 404, 500, 201, 429].randomElement(using: &random) ?? 200
      let headers = (0..<Int.random(in: 0...6, using: &random)).map { _ in
        (texts.randomElement(using: &random) ?? "", texts.randomElement(using: &random) ?? "")
      }
      let framing: ServerConnectionMachine.BodyDelimiting =
        switch Int.random(in: 0..<4, using: &random) {
        case 0: .chunked
        case 1: .closeDelimited
        case 2: .contentLength(Int.random(in: 0...9, using: &random))
        default: .contentLength(Int.random(in: 0...Int.max, using: &random))
        }
      let version: HTTPVersion = Bool.random(using: &random) ? .http11 : .http10
      let keepAlive = Bool.random(using: &random)
      let head = ServerConnectionMachine.head(
        status: status, headers: headers, framing: framing, version: version, keepAlive: keepAlive,
        reserving: Int.random(in: 0...100, using: &random))
      let expected = Self.composed(
        status: status, headers: headers, framing: framing, version: version, keepAlive: keepAlive)
      #expect(head == Array(expected.utf8), "\(expected)")
    }
  }
}
