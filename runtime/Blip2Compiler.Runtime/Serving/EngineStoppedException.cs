namespace Blip2Compiler.Serving;

/// <summary>The engine is stopping or stopped and takes no new requests.</summary>
public sealed class EngineStoppedException()
    : Blip2Exception("the engine is shutting down and takes no new requests");
