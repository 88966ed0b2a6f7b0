// Small DOM helpers: lookup by id, element creation without innerHTML.

export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

// el('td', { className: 'x', dataset: { field: 'a' } }, 'text', child…)
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'attrs') for (const [name, v] of Object.entries(value)) element.setAttribute(name, v);
    else element[key] = value;
  }
  for (const child of children) {
    if (child == null) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

export function show(element, visible) {
  element.hidden = !visible;
}
