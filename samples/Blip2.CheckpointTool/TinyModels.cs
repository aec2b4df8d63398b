using Blip2Compiler;

namespace Blip2.CheckpointTool;

/// <summary>The bundled tiny checkpoints, compiled from their own config.json so the key map gives every shape.</summary>
[Blip2Model("blip2-tiny-opt/config.json")]
public partial class TinyOpt;

[Blip2Model("blip2-tiny-itm/config.json")]
public partial class TinyItm;

[Blip2Model("blip2-tiny-t5/config.json")]
public partial class TinyT5;
