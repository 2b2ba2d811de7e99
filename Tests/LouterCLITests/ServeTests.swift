import Foundation
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `louter serve` as a process: the request log, SIGHUP reload and SIGTERM.
@Suite(.serialized, .timeLimit(.minutes(1))) struct ServeTests {
  static func routes(_ name: String) -> String {
    """
    [server]
    auth = "none"
    request_log = "REQUEST_LOG"
    [backends.demo]
    protocol = "echo"
    [[routes]]
    name = "\(name)"
    backends = ["demo"]
    """
  }

  /// Sends one generate request and returns the status, the route header and the body.
  static func post(port: Int, text: String) throws -> (status: Int, route: String?, body: String) {
    var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)/v1beta/models/m:generateContent")))
    request.httpMethod = "POST"
    request.httpBody = Data(#"{"contents":[{"role":"user","parts":[{"text":"\#(text)"}]}]}"#.utf8)
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: (Int, String?, String) = (0, nil, "")
    URLSession.shared.dataTask(with: request) { data, response, _ in
      let http = response as? HTTPURLResponse
      result = (
        http?.statusCode ?? 0, http?.value(forHTTPHeaderField: "x-louter-route"),
        String(decoding: data ?? Data(), as: UTF8.self)
      )
      done.signal()
    }.resume()
    done.wait()
    return result
  }

  @Test func logsRequestsReloadsOnSIGHUPAndExitsZeroOnSIGTERM() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("louter-serve-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let log = folder.appendingPathComponent("requests.jsonl")
    let routes = folder.appendingPathComponent("routes")
    try FileManager.default.createDirectory(at: routes, withIntermediateDirectories: true)
    let file = routes.appendingPathComponent("a.toml")
    try Self.routes("first").replacingOccurrences(of: "REQUEST_LOG", with: log.path).write(
      to: file, atomically: true, encoding: .utf8)

    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = ["serve", "--routes", routes.path, "--listen", "127.0.0.1:0"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { process.terminate() } }
    let banner = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    let port = try #require(banner.split(separator: ":").last?.split(separator: " ").first.flatMap { Int($0) })

    let first = try Self.post(port: port, text: "hello log")
    #expect(first.status == 200)
    #expect(first.route == "first")
    #expect(first.body.contains("hello log"))
    let line = try #require(try String(contentsOf: log, encoding: .utf8).split(separator: "\n").first)
    let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    #expect(entry["route"] as? String == "first")
    #expect(entry["status"] as? Int == 200)
    #expect(entry["output_tokens"] as? Int == 2)

    // A broken file is refused and the old table keeps serving; a good one replaces it whole.
    try "[[routes]]\nbackends = [\"nope\"]\n".write(to: file, atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    try Self.routes("second").replacingOccurrences(of: "REQUEST_LOG", with: log.path).write(
      to: file, atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    var route: String?
    for _ in 0..<200 where route != "second" {
      route = try Self.post(port: port, text: "again").route
    }
    #expect(route == "second")

    process.terminate()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
  }
}
