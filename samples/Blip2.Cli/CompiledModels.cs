using Blip2Compiler;

namespace Blip2.Cli;

// Each class is generated at build time from its config.json (an AdditionalFiles item): ModelCatalog maps a
// checkpoint folder to the class whose config matches. To run another checkpoint, add its config.json under
// Models/ and one line here.

[Blip2Model("blip2-tiny-opt/config.json")] public partial class BundledTinyOpt;
[Blip2Model("blip2-tiny-itm/config.json")] public partial class BundledTinyItm;
[Blip2Model("blip2-tiny-t5/config.json")] public partial class BundledTinyT5;

[Blip2Model("blip2-opt-2.7b/config.json")] public partial class Blip2Opt27b;
[Blip2Model("blip2-opt-6.7b/config.json")] public partial class Blip2Opt67b;
[Blip2Model("blip2-opt-6.7b-coco/config.json")] public partial class Blip2Opt67bCoco;
[Blip2Model("blip2-flan-t5-xl/config.json")] public partial class Blip2FlanT5Xl;
[Blip2Model("blip2-flan-t5-xl-coco/config.json")] public partial class Blip2FlanT5XlCoco;
[Blip2Model("blip2-flan-t5-xxl/config.json")] public partial class Blip2FlanT5Xxl;
[Blip2Model("blip2-itm-vit-g/config.json")] public partial class Blip2ItmVitG;
[Blip2Model("blip2-itm-vit-g-coco/config.json")] public partial class Blip2ItmVitGCoco;
