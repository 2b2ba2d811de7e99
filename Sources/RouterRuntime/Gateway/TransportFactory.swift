public import RouteCompiler
import RouteSpec

/// Picks the transport for each backend.
public enum TransportFactory {
  /// One URLSession-based transport shared by every https backend, so connections are reused.
  static let secure = URLSessionTransport()

  /// The transport for `backend`: in-process for echo, our own client for plain http, URLSession for https.
  public static func make(_ backend: CompiledBackend) -> any UpstreamTransport {
    if backend.protocolName == .echo { return EchoTransport(pace: backend.pace.map { .milliseconds($0.milliseconds) }) }
    return usesURLSession(backend) ? secure : PlainHTTPTransport.shared
  }

  /// True for a backend that `make` gives URLSession (anything but echo and `http://`).
  static func usesURLSession(_ backend: CompiledBackend) -> Bool {
    switch backend.protocolName {
    case .echo: false
    case .openai, .gemini: !(backend.url?.lowercased().hasPrefix("http://") ?? false)
    }
  }

  /// Said at start when `table` has backends on URLSession and the library that runs it is not there
  /// (found without loading it): the names of those backends and what is missing. Nil when all is well.
  public static func missingHTTPSLibrary(for table: RouteTable) -> String? {
    let names = table.backends.filter(usesURLSession).map(\.name)
    guard !names.isEmpty, let problem = HTTPSLibrary.missing else { return nil }
    return "backends \(names.joined(separator: ", ")) will fail: \(problem)"
  }
}
