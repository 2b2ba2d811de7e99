import Foundation
import Glibc
import RouteCompiler
import RouteSpec
import RouterRuntime
import Synchronization

/// louter in front of a fast local fake OpenAI backend, against the same backend called directly.
///
/// `swift run -c release louter-bench gateway [--seconds S]`: requests/s at concurrency 1, 16 and 64,
/// added latency p50/p99, streaming TTFT overhead, concurrent streams held, and RSS.
enum GatewayBenchmark {
  static let completion = Array(
    #"{"id":"c1","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"hello from the fake backend"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}"#
      .utf8)

  /// The fake backend: answers chat completions at once; streams `words` chunks when asked, with `gap` between them.
  struct FakeOpenAI: HTTPHandler {
    let gap: Duration
    var chunks = 8

    func handle(_ request: HTTPRequest, responder: HTTPResponder) async {
      guard request.body.firstRange(of: Array(#""stream":true"#.utf8)) != nil else {
        try? await responder.respond(status: 200, headers: [("content-type", "application/json")], body: completion)
        return
      }
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      for index in 0..<chunks {
        if index > 0, gap > .zero { try? await Task.sleep(for: gap) }
        let chunk =
          #"data: {"id":"c1","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{"content":"w\#(index) "},"finish_reason":null}]}"#
          + "\n\n"
        try? await responder.write(Array(chunk.utf8))
      }
      let tail =
        #"data: {"id":"c1","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
        + "\n\n" + #"data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":8,"total_tokens":13}}"#
        + "\n\ndata: [DONE]\n\n"
      try? await responder.write(Array(tail.utf8))
      try? await responder.finish()
    }
  }

  /// A blocking keep-alive client for one virtual user.
  final class Client {
    let fd: Int32
    var buffer = [UInt8](repeating: 0, count: 1 << 16)

    init(port: Int) {
      fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var one: Int32 = 1
      setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = in_port_t(UInt16(port).bigEndian)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    }

    deinit { close(fd) }

    /// Sends `request` and reads one whole response; returns (seconds to first body byte, total seconds).
    func exchange(_ request: [UInt8], firstMarker: [UInt8]) -> (first: Double, total: Double)? {
      let start = MonotonicInstant.now
      let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      guard sent == request.count else { return nil }
      var data: [UInt8] = []
      var first: Double?
      while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        data.append(contentsOf: buffer[0..<count])
        if first == nil, data.firstRange(of: firstMarker) != nil { first = seconds(since: start) }
        if Self.isComplete(data) { break }
      }
      let total = seconds(since: start)
      return (first ?? total, total)
    }

    static func isComplete(_ data: [UInt8]) -> Bool {
      guard let headEnd = data.firstRange(of: Array("\r\n\r\n".utf8)) else { return false }
      let head = String(decoding: data[..<headEnd.lowerBound], as: UTF8.self).lowercased()
      if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
        let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
      {
        return data.count - headEnd.upperBound >= length
      }
      return data.suffix(5).elementsEqual(Array("0\r\n\r\n".utf8))
    }
  }

  static func seconds(since start: MonotonicInstant) -> Double {
    let elapsed = (MonotonicInstant.now - start).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
  }

  static func request(path: String, body: String) -> [UInt8] {
    Array(
      "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        .utf8)
  }

  struct Measurement {
    var latencies: [Double] = []
    var firsts: [Double] = []
    var failures = 0
    var elapsed = 0.0

    func percentile(_ values: [Double], _ p: Double) -> Double {
      guard !values.isEmpty else { return .nan }
      let sorted = values.sorted()
      return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }
  }

  /// `concurrency` threads, each sending requests back to back on one keep-alive connection for `duration`.
  static func load(port: Int, request: [UInt8], marker: [UInt8], concurrency: Int, duration: Double) -> Measurement {
    let results = Mutex<Measurement>(Measurement())
    let group = DispatchGroup()
    let start = MonotonicInstant.now
    for _ in 0..<concurrency {
      group.enter()
      Thread {
        let client = Client(port: port)
        var local = Measurement()
        while seconds(since: start) < duration {
          if let (first, total) = client.exchange(request, firstMarker: marker) {
            local.latencies.append(total)
            local.firsts.append(first)
          } else {
            local.failures += 1
            break
          }
        }
        results.withLock { all in
          all.latencies += local.latencies
          all.firsts += local.firsts
          all.failures += local.failures
        }
        group.leave()
      }.start()
    }
    group.wait()
    var measurement = results.withLock { $0 }
    measurement.elapsed = seconds(since: start)
    return measurement
  }

  static func residentMemoryKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
  }

  static func run(_ arguments: [String]) throws {
    var duration = 3.0
    if let index = arguments.firstIndex(of: "--seconds"), index + 1 < arguments.count,
      let value = Double(arguments[index + 1])
    {
      duration = value
    }
    let backend = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: FakeOpenAI(gap: .zero))
    let backendPort = try backend.start()
    let routes = """
      [server]
      auth = "none"
      request_log = "off"
      [backends.fake]
      protocol = "openai"
      url = "http://127.0.0.1:\(backendPort)/v1"
      max_concurrency = 100000
      [[routes]]
      backends = ["fake"]
      """
    var sources = SourceMap()
    let file = sources.add(path: "bench.toml", bytes: Array(routes.utf8))
    let (syntax, _) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    guard let table = RouteCompiler.compile([syntax], sources: sources, mode: .serve, environment: [:]).table else {
      print("bench routes did not compile")
      return
    }
    let gateway = Gateway(table: table, transport: TransportFactory.make, sink: { _ in })
    let louter = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: gateway)
    let louterPort = try louter.start()
    let idleRSS = residentMemoryKiB()

    let direct = request(
      path: "/v1/chat/completions", body: #"{"model":"bench","messages":[{"role":"user","content":"hello"}]}"#)
    let viaLouter = request(
      path: "/v1beta/models/bench:generateContent", body: #"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#)
    let marker = Array("{".utf8)
    print("gateway benchmark (release build, \(duration)s per point, fake OpenAI backend on 127.0.0.1)")
    print("RSS idle (bench process: louter + fake backend): \(idleRSS / 1024) MiB")
    for concurrency in [1, 16, 64] {
      let base = load(port: backendPort, request: direct, marker: marker, concurrency: concurrency, duration: duration)
      let through = load(
        port: louterPort, request: viaLouter, marker: marker, concurrency: concurrency, duration: duration)
      let added50 = (through.percentile(through.latencies, 0.5) - base.percentile(base.latencies, 0.5)) * 1e6
      let added99 = (through.percentile(through.latencies, 0.99) - base.percentile(base.latencies, 0.99)) * 1e6
      print(
        String(
          format:
            "  concurrency %2d: direct %7.0f req/s p50 %6.0f us p99 %6.0f us | louter %7.0f req/s p50 %6.0f us p99 %6.0f us | added p50 %6.0f us p99 %6.0f us | failures %d",
          concurrency, Double(base.latencies.count) / base.elapsed, base.percentile(base.latencies, 0.5) * 1e6,
          base.percentile(base.latencies, 0.99) * 1e6, Double(through.latencies.count) / through.elapsed,
          through.percentile(through.latencies, 0.5) * 1e6, through.percentile(through.latencies, 0.99) * 1e6, added50,
          added99, base.failures + through.failures))
    }
    let streamDirect = request(
      path: "/v1/chat/completions",
      body: #"{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello"}]}"#)
    let streamLouter = request(
      path: "/v1beta/models/bench:streamGenerateContent?alt=sse",
      body: #"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#)
    let dataMarker = Array("data: ".utf8)
    let base = load(port: backendPort, request: streamDirect, marker: dataMarker, concurrency: 1, duration: duration)
    let through = load(port: louterPort, request: streamLouter, marker: dataMarker, concurrency: 1, duration: duration)
    print(
      String(
        format:
          "  streaming TTFT: direct p50 %6.0f us p99 %6.0f us | louter p50 %6.0f us p99 %6.0f us | overhead p50 %6.0f us p99 %6.0f us",
        base.percentile(base.firsts, 0.5) * 1e6, base.percentile(base.firsts, 0.99) * 1e6,
        through.percentile(through.firsts, 0.5) * 1e6, through.percentile(through.firsts, 0.99) * 1e6,
        (through.percentile(through.firsts, 0.5) - base.percentile(base.firsts, 0.5)) * 1e6,
        (through.percentile(through.firsts, 0.99) - base.percentile(base.firsts, 0.99)) * 1e6))
    print("RSS after load: \(residentMemoryKiB() / 1024) MiB")
  }
}
