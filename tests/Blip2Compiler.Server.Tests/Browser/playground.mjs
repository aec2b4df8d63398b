// Drives the playground page of a running `blip2 serve` in headless chromium, as a user would: pick an image, press
// Caption, then ask a question; prints what the page showed as JSON. Usage: node playground.mjs <url> <image> <question>
import { chromium } from "playwright-core";

const [url, image, question] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("model").textContent.includes("·"));
  await page.setInputFiles("#file", image);
  await page.fill("#max-tokens", "8");
  await page.waitForSelector("#caption:not([disabled])");

  await page.click("#caption");
  await page.waitForSelector("#output[data-done=true]", { timeout: 120000 });
  const caption = await page.textContent("#output");
  // Streaming: how many text pieces (SSE deltas) the page appended as they came.
  const pieces = Number(await page.getAttribute("#output", "data-pieces"));

  await page.evaluate(() => delete document.getElementById("output").dataset.done);
  await page.fill("#question", question);
  await page.click("#ask");
  await page.waitForSelector("#output[data-done=true]", { timeout: 120000 });
  const answer = await page.textContent("#output");
  const error = await page.textContent("#error");
  console.log(JSON.stringify({ caption, answer, pieces, error, errors, model: await page.textContent("#model") }));
} finally {
  await browser.close();
}
