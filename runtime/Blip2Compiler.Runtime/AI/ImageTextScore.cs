namespace Blip2Compiler.AI;

/// <summary>
/// How well a text fits an image: the image–text matching head's probability of "match" (softmax of its two
/// logits) and the contrastive similarity (cosine, max over the query tokens).
/// </summary>
public sealed record ImageTextScore(string Text, double MatchProbability, double Similarity);
