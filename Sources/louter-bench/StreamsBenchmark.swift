import Foundation
import Glibc
import RouterRuntime

/// How many concurrent streams a separate `louter serve` process holds, and its memory.
///
/// `swift run -c release louter-bench streams [--count N]...`: a fake OpenAI backend in this process
/// streams 20 chunks 100 ms apart; `louter serve` (the sibling binary) runs as a child; one thread
/// here opens N streams at once with non-blocking sockets and poll(2) and counts the streams that end
/// complete. The child's RSS is read from /proc when idle and while every stream is open.
enum StreamsBenchmark {
  static func rssKiB(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
  }

  static func run(_ arguments: [String]) throws {
    var counts: [Int] = []
    var index = 0
    while index < arguments.count {
      if arguments[index] == "--count", index + 1 < arguments.count, let value = Int(arguments[index + 1]) {
        counts.append(value)
        index += 1
      }
      index += 1
    }
    if counts.isEmpty { counts = [1_000, 8_000] }
    Posix.raiseDescriptorLimit()

    let backend = HTTPServer(
      configuration: HTTPServerConfiguration(port: 0),
      handler: GatewayBenchmark.FakeOpenAI(gap: .milliseconds(100), chunks: 20))
    let backendPort = try backend.start()
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("louter-streams-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try """
    [server]
    auth = "none"
    request_log = "off"
    [backends.fake]
    protocol = "openai"
    url = "http://127.0.0.1:\(backendPort)/v1"
    max_concurrency = 100000
    [[routes]]
    backends = ["fake"]
    """.write(to: folder.appendingPathComponent("routes.toml"), atomically: true, encoding: .utf8)
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "louter")
    let child = Process()
    child.executableURL = binary
    child.arguments = ["serve", "--routes", folder.path, "--listen", "127.0.0.1:0"]
    let output = Pipe()
    child.standardOutput = output
    try child.run()
    defer { child.terminate() }
    let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    guard let portText = line.split(separator: ":").last?.split(separator: " ").first, let port = Int(portText) else {
      print("louter did not start: \(line)")
      return
    }
    print("concurrent streams through a separate louter process (fake backend: 20 chunks, 100 ms apart)")
    print("  louter RSS idle: \(rssKiB(child.processIdentifier) / 1024) MiB")
    let body = #"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#
    let request = Array(
      "POST /v1beta/models/m:streamGenerateContent?alt=sse HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        .utf8)
    for count in counts {
      let result = hold(count: count, port: port, request: request, pid: child.processIdentifier)
      print(
        "  \(count) streams: \(result.complete) complete, \(result.failed) failed; louter RSS with all open: \(result.peakRSS / 1024) MiB"
      )
    }
  }

  static func hold(count: Int, port: Int, request: [UInt8], pid: Int32) -> (complete: Int, failed: Int, peakRSS: Int) {
    var descriptors: [pollfd] = []
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    for _ in 0..<count {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      guard fd >= 0 else { break }
      let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard connected == 0 else {
        close(fd)
        break
      }
      _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
    }
    var tails = [[UInt8]](repeating: [], count: descriptors.count)
    var done = [Bool](repeating: false, count: descriptors.count)
    var complete = 0
    var failed = count - descriptors.count
    var peak = 0
    var buffer = [UInt8](repeating: 0, count: 65536)
    let start = MonotonicInstant.now
    var open = descriptors.count
    while open > 0, MonotonicInstant.now - start < .seconds(60) {
      let ready = poll(&descriptors, nfds_t(descriptors.count), 200)
      if MonotonicInstant.now - start > .milliseconds(1000) { peak = max(peak, rssKiB(pid)) }
      guard ready > 0 else { continue }
      for index in descriptors.indices where !done[index] && descriptors[index].revents != 0 {
        let fd = descriptors[index].fd
        let read = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if read > 0 {
          tails[index] = Array((tails[index] + buffer[0..<read]).suffix(16))
          if tails[index].suffix(5).elementsEqual(Array("0\r\n\r\n".utf8)) {
            complete += 1
            done[index] = true
            open -= 1
            close(fd)
            descriptors[index].fd = -1
          }
        } else {
          failed += 1
          done[index] = true
          open -= 1
          close(fd)
          descriptors[index].fd = -1
        }
      }
    }
    for index in descriptors.indices where !done[index] {
      failed += 1
      close(descriptors[index].fd)
    }
    return (complete, failed, peak)
  }
}
