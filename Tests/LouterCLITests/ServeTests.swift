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
  static func post(port: Int, model: String = "m", text: String) throws -> (status: Int, route: String?, body: String) {
    var request = URLRequest(
      url: try #require(URL(string: "http://127.0.0.1:\(port)/v1beta/models/\(model):generateContent")))
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
    defer { try? FileManager.default.removeItem(at: folder) }
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
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    defer { if process.isRunning { process.terminate() } }
    let banner = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    let port = try #require(banner.split(separator: ":").last?.split(separator: " ").first.flatMap { Int($0) })
    let stderr = PipeReader(errors.fileHandleForReading)

    let first = try Self.post(port: port, text: "hello log")
    #expect(first.status == 200)
    #expect(first.route == "first")
    #expect(first.body.contains("hello log"))

    // A broken file is refused, said so on stderr, and the old table keeps serving.
    try "[[routes]]\nbackends = [\"nope\"]\n".write(to: file, atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    let refusal = stderr.read(until: "louter: reload refused")
    #expect(refusal.contains("louter: reload refused"))
    #expect(refusal.contains("unknown backend 'nope'"), "the refusal says why")
    let afterRefusal = try Self.post(port: port, text: "still here")
    #expect(afterRefusal.status == 200)
    #expect(afterRefusal.route == "first")

    // A good file replaces the table whole.
    try Self.routes("second").replacingOccurrences(of: "REQUEST_LOG", with: log.path).write(
      to: file, atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    #expect(stderr.read(until: "louter: reloaded").contains("louter: reloaded 1 routes"))
    let afterReload = try Self.post(port: port, text: "again")
    #expect(afterReload.status == 200)
    #expect(afterReload.route == "second")

    process.terminate()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)

    // The process has exited after draining its requests: every log line is on disk now.
    let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
    let entries = try lines.map { line in
      try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
    #expect(entries.map { $0["route"] as? String } == ["first", "first", "second"])
    let entry = try #require(entries.first)
    #expect(entry["status"] as? Int == 200)
    #expect(entry["output_tokens"] as? Int == 2)
  }
}

extension ServeTests {
  /// Every held stream costs descriptors: `serve` starts by raising its soft limit to the hard one. Started
  /// here with a low soft limit, it must run with the hard one.
  @Test func serveRaisesTheDescriptorSoftLimitToTheHardOne() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("louter-limit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try Self.routes("limit").replacingOccurrences(of: "REQUEST_LOG", with: "off").write(
      to: folder.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = [
      "-c", "ulimit -Sn 256 && exec \"$0\" serve --routes \"$1\" --listen 127.0.0.1:0", CLI.binary.path, folder.path,
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = Pipe()
    try process.run()
    defer {
      if process.isRunning { process.terminate() }
      process.waitUntilExit()
    }
    // The banner comes after the limit was raised.
    _ = output.fileHandleForReading.availableData
    let limits = try String(contentsOfFile: "/proc/\(process.processIdentifier)/limits", encoding: .utf8)
    let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
    let numbers = line.split(separator: " ").compactMap { Int($0) }
    #expect(numbers.count == 2 && numbers[0] == numbers[1] && numbers[0] > 256, "\(line)")
  }
}

/// Reads a child's pipe until a marker shows up, without fixed waits: each read blocks until output
/// arrives, and gives up (returning what it has) after 20 s without any, or at end of file.
final class PipeReader {
  let handle: FileHandle
  private var seen: [UInt8] = []

  init(_ handle: FileHandle) { self.handle = handle }

  /// Everything read so far, once it contains `marker` (or the pipe went quiet or closed).
  func read(until marker: String) -> String {
    let needle = Array(marker.utf8)
    while seen.firstRange(of: needle) == nil {
      var poller = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
      let ready = poll(&poller, 1, 20_000)
      if ready < 0, errno == EINTR { continue }
      guard ready > 0 else { break }
      let data = handle.availableData
      if data.isEmpty { break }
      seen += data
    }
    return String(decoding: seen, as: UTF8.self)
  }
}

extension ServeTests {
  /// The mapped files of a running process (`/proc/PID/maps`), one path per mapping.
  static func mappedFiles(_ pid: Int32) throws -> String {
    // Read to the end: procfs reports a size of 0, and a read sized by it stops early.
    let maps = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/maps"))
    defer { try? maps.close() }
    return String(decoding: maps.readDataToEndOfFile(), as: UTF8.self)
  }

  /// A gateway maps Foundation, libcurl and a TLS library only once an https backend is called: until
  /// then `louter` carries FoundationEssentials alone (idle RSS), and the first https request loads
  /// libLouterHTTPS.so from next to the binary and gets a clear answer from it.
  /// Routes with an echo backend and an https backend on a closed port (9, discard, on 127.0.0.1).
  static let routesWithHTTPS = """
    [server]
    auth = "none"
    request_log = "off"
    [backends.demo]
    protocol = "echo"
    [backends.far]
    protocol = "openai"
    url = "https://127.0.0.1:9/v1"
    [[routes]]
    name = "far"
    match = { model = "far" }
    backends = ["far"]
    [[routes]]
    name = "near"
    backends = ["demo"]
    """

  /// Starts `louter serve` on `routesWithHTTPS` with `environment` added; its port and stderr.
  static func serveWithHTTPS(in folder: URL, environment: [String: String] = [:]) throws -> (
    process: Process, port: Int, stderr: PipeReader
  ) {
    try routesWithHTTPS.write(to: folder.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = ["serve", "--routes", folder.path, "--listen", "127.0.0.1:0"]
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let banner = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    let port = try #require(banner.split(separator: ":").last?.split(separator: " ").first.flatMap { Int($0) })
    return (process, port, PipeReader(errors.fileHandleForReading))
  }

  /// A gateway maps Foundation, libcurl and a TLS library only once an https backend is called: until
  /// then `louter` carries FoundationEssentials alone (idle RSS), and the first https request loads
  /// libLouterHTTPS.so from next to the binary and gets a clear answer from it.
  @Test func httpsSupportIsLoadedAtTheFirstHTTPSRequestOnly() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("louter-https-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let (process, port, _) = try Self.serveWithHTTPS(in: folder)
    defer {
      process.terminate()
      process.waitUntilExit()
    }
    let heavy = ["libFoundation.so", "libFoundationNetworking", "lib_FoundationICU", "libcurl", "libLouterHTTPS"]

    let near = try Self.post(port: port, text: "near")
    #expect(near.status == 200)
    let beforeHTTPS = try Self.mappedFiles(process.processIdentifier)
    for library in heavy { #expect(!beforeHTTPS.contains(library), "\(library) is mapped before any https request") }

    let far = try Self.post(port: port, model: "far", text: "far")
    #expect(far.status == 502 || far.status == 503, "\(far.status): \(far.body)")
    #expect(!far.body.contains("need libLouterHTTPS"), "the library was found: \(far.body)")
    let afterHTTPS = try Self.mappedFiles(process.processIdentifier)
    #expect(afterHTTPS.contains("libLouterHTTPS.so"))
    #expect(afterHTTPS.contains("libFoundationNetworking"))
  }

  /// Without the library, serve says at start which backends will fail, and their requests fail with
  /// that reason while the others serve.
  @Test func aMissingHTTPSLibraryIsToldAtStartAndOnItsBackendsRequests() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("louter-nohttps-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let missing = folder.appendingPathComponent("libLouterHTTPS.so").path
    let (process, port, stderr) = try Self.serveWithHTTPS(in: folder, environment: ["LOUTER_HTTPS_LIBRARY": missing])
    defer {
      process.terminate()
      process.waitUntilExit()
    }
    let warning = stderr.read(until: "will fail")
    #expect(warning.contains("louter: backends far will fail"), "\(warning)")
    #expect(warning.contains(missing))
    #expect(try Self.post(port: port, text: "near").status == 200)
    let far = try Self.post(port: port, model: "far", text: "far")
    #expect(far.status == 502 || far.status == 503, "\(far.status): \(far.body)")
  }
}
