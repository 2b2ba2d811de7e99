public import RouteCompiler
import RouteSpec

/// Picks the transport for each backend.
public enum TransportFactory {
  /// One URLSession-based transport shared by every https backend, so connections are reused.
  static let secure = URLSessionTransport()

  /// The transport for `backend`: in-process for echo, our own client for plain http, URLSession for https.
  public static func make(_ backend: CompiledBackend) -> any UpstreamTransport {
    switch backend.protocolName {
    case .echo: return EchoTransport(pace: backend.pace.map { .milliseconds($0.milliseconds) })
    case .openai, .gemini:
      let plain = backend.url?.lowercased().hasPrefix("http://") ?? false
      return plain ? PlainHTTPTransport.shared : secure
    }
  }
}
