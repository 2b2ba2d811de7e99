public import RouteCompiler
import RouteSpec

/// Picks the transport for each backend.
public enum TransportFactory {
  /// One URLSession-based transport shared by every https backend, so connections are reused.
  static let secure = URLSessionTransport()

  /// The transport for `backend`: in-process for echo, URLSession otherwise.
  public static func make(_ backend: CompiledBackend) -> any UpstreamTransport {
    switch backend.protocolName {
    case .echo: EchoTransport()
    case .openai, .gemini: secure
    }
  }
}
