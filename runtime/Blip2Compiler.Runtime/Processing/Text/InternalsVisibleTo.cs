using System.Runtime.CompilerServices;

// The tokenizer tests rebuild tokenizer.json files from the fixtures' SentencePiece model.
[assembly: InternalsVisibleTo("Blip2Compiler.Processing.Tests")]
