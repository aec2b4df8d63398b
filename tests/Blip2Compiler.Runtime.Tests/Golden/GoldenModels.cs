using Blip2Compiler;

namespace Blip2Compiler.Tests.Golden;

// The fixture checkpoints, compiled by the generator from their own config.json (AdditionalFiles in the csproj).
[Blip2Model("blip2-opt/model/config.json")] public partial class GoldenOpt;
[Blip2Model("blip2-flan-t5/model/config.json")] public partial class GoldenFlanT5;
[Blip2Model("blip2-itm/model/config.json")] public partial class GoldenItm;
[Blip2Model("blip2-features/model/config.json")] public partial class GoldenFeatures;
