// The demo page's activity list (#log): the REST calls the page made, newest first, the last six.

/** Runs one REST call, logging it in the activity list: `ok`, or `failed` with the error as the item's title. */
export async function call(label, fn) {
  const log = document.querySelector('#log');
  const item = document.createElement('li');
  const time = new Date().toLocaleTimeString('en-GB', { hour12: false });
  item.innerHTML = `<time></time><span class="what"></span><span class="result">…</span>`;
  item.querySelector('time').textContent = time;
  item.querySelector('.what').textContent = label;
  log.prepend(item);
  while (log.children.length > 6) log.lastElementChild.remove();
  try {
    const result = await fn();
    item.querySelector('.result').textContent = 'ok';
    item.dataset.result = 'ok';
    return result;
  } catch (error) {
    item.querySelector('.result').textContent = 'failed';
    item.dataset.result = 'error';
    item.title = String(error.message ?? error);
    throw error;
  }
}
