// The dashboard's per-minute chart: /api/v1/throughput for all channels or the chosen one, redrawn each 30 s.
(function () {
  const box = document.getElementById("throughput");
  const select = document.getElementById("chart-channel");
  const chart = echarts.init(box);
  const names = { received: box.dataset.received, processed: box.dataset.processed, errored: box.dataset.errored };
  async function draw() {
    const query = new URLSearchParams({ minutes: "60" });
    if (select.value) query.set("channel", select.value);
    const answer = await fetch("/api/v1/throughput?" + query, { credentials: "same-origin" });
    if (!answer.ok) return;
    const data = await answer.json();
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: Object.values(names), top: 0 },
      grid: { left: 40, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "category", data: data.minutes },
      yAxis: { type: "value", minInterval: 1 },
      series: ["received", "processed", "errored"].map((key) => ({
        name: names[key], type: "line", smooth: true, data: data[key], showSymbol: false,
      })),
    }, true);
    box.dataset.drawn = "true";
  }
  select.addEventListener("change", draw);
  window.addEventListener("resize", () => chart.resize());
  draw();
  setInterval(draw, 30000);
})();
