import Testing

@testable import RouterRuntime

/// The request parser's events gathered in place (``HTTPRequestParser/Events``, the first held inline) against an
/// oracle: seeded streams of pipelined requests, written by a generator that knows what each request is, cut into
/// reads at random points.
@Suite struct RequestPathFeedTests {
  /// One generated request: its bytes on the wire and what the parser must make of them.
  struct Generated {
    var wire: [UInt8] = []
    /// The offset in `wire` where the body starts (where a read ending there gets a 100-continue).
    var bodyStart = 0
    var expectsContinue = false
    var transcript = ""
  }

  static func printable(_ random: inout SeededGenerator, count: Int) -> String {
    String((0..<count).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &random))) })
  }

  static func generate(_ random: inout SeededGenerator, index: Int) -> Generated {
    var generated = Generated()
    let http10 = Int.random(in: 0..<5, using: &random) == 0
    let method = ["GET", "POST", "PUT"].randomElement(using: &random) ?? "GET"
    let target = "/p\(index)?q=\(Int.random(in: 0..<1000, using: &random))"
    var headers: [(String, String)] = []
    for field in 0..<Int.random(in: 0...3, using: &random) {
      headers.append(("X-H\(field)", printable(&random, count: Int.random(in: 1...12, using: &random))))
    }
    var keepAlive = !http10
    switch Int.random(in: 0..<4, using: &random) {
    case 0:
      headers.append(("Connection", "close"))
      keepAlive = false
    case 1 where http10:
      headers.append(("Connection", "keep-alive"))
      keepAlive = true
    default: break
    }
    let body = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    // HTTP/1.0 has no chunked coding (a 400).
    let framing = Int.random(in: 0..<(http10 ? 2 : 3), using: &random)
    if framing > 0, Bool.random(using: &random) {
      headers.append(("Expect", "100-continue"))
      generated.expectsContinue = true
    }
    var tail: [UInt8] = []
    switch framing {
    case 0:
      // No framing field: no body.
      break
    case 1:
      headers.append(("Content-Length", "\(body.count)"))
      tail = body
    default:
      headers.append(("Transfer-Encoding", "chunked"))
      var rest = body[...]
      while !rest.isEmpty {
        let size = Int.random(in: 1...rest.count, using: &random)
        let hex = String(size, radix: 16, uppercase: Bool.random(using: &random))
        tail += Array("\(hex)\r\n".utf8) + rest.prefix(size) + Array("\r\n".utf8)
        rest = rest.dropFirst(size)
      }
      tail += Array((Bool.random(using: &random) ? "0\r\nT: v\r\n\r\n" : "0\r\n\r\n").utf8)
    }
    var head = Bool.random(using: &random) ? "\r\n" : ""
    head += "\(method) \(target) HTTP/1.\(http10 ? 0 : 1)\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    head += "\r\n"
    generated.wire = Array(head.utf8)
    generated.bodyStart = generated.wire.count
    generated.wire += tail
    if framing == 0 { generated.expectsContinue = false }
    generated.transcript =
      "\(method) \(target) \(http10 ? "http10" : "http11") keep-alive \(keepAlive) "
      + headers.map { "[\($0.0)|\($0.1)]" }.joined() + " body \(framing == 0 ? [] : body)"
    return generated
  }

  static func transcript(_ event: HTTPRequestParser.Event) -> String {
    switch event {
    case .expectContinue: "100-continue"
    case .error(let error): "error \(error.status)"
    case .request(let request):
      "\(request.method) \(request.target) \(request.version) keep-alive \(request.keepAlive) "
        + request.headers.pairs.map { "[\($0.name)|\($0.value)]" }.joined() + " body \(request.body)"
    }
  }

  @Test func pipelinedRequestsCutAtRandomReadsComeOutAsGenerated() {
    var random = SeededGenerator(state: 0x5EED_F00D)
    for round in 0..<3_000 {
      var wire: [UInt8] = []
      var requests: [Generated] = []
      var offsets: [Int] = []
      for index in 0..<Int.random(in: 1...4, using: &random) {
        let request = Self.generate(&random, index: index)
        offsets.append(wire.count)
        wire += request.wire
        requests.append(request)
      }
      // Sometimes a malformed request last: an error, after which nothing more comes out.
      let failing = Int.random(in: 0..<4, using: &random) == 0
      if failing { wire += Array("GET / HTTP/1.1\r\nno colon here\r\n\r\nGET / HTTP/1.1\r\n\r\n".utf8) }
      var cuts = Set(
        (0..<Int.random(in: 0...4, using: &random)).map { _ in Int.random(in: 0...wire.count, using: &random) })
      cuts.insert(wire.count)
      let ends = cuts.sorted()
      var expected: [String] = []
      for (request, offset) in zip(requests, offsets) {
        if request.expectsContinue, cuts.contains(offset + request.bodyStart) { expected.append("100-continue") }
        expected.append(request.transcript)
      }
      if failing { expected.append("error 400") }
      // One `Events` for every read, and a fresh one per read: the same events in the same order.
      var shared = HTTPRequestParser.Events()
      var perRead: [String] = []
      var sharedParser = HTTPRequestParser(maxHeadBytes: 4096, maxHeaders: 20, maxBodyBytes: 4096)
      var freshParser = sharedParser
      var start = 0
      for end in ends {
        sharedParser.feed(wire[start..<end], into: &shared)
        var fresh = HTTPRequestParser.Events()
        freshParser.feed(wire[start..<end], into: &fresh)
        perRead += fresh.map(Self.transcript)
        start = end
      }
      #expect(shared.map(Self.transcript) == expected, "round \(round), cuts \(ends)")
      #expect(perRead == expected, "round \(round), cuts \(ends)")
    }
  }

  @Test func eventsComeOutInTheOrderTheyWereAdded() {
    for count in 0..<6 {
      var events = HTTPRequestParser.Events()
      for status in 0..<count { events.append(.error(HTTPParseError(status: status, message: "\(status)"))) }
      #expect(events.map(Self.transcript) == (0..<count).map { "error \($0)" })
    }
  }
}
