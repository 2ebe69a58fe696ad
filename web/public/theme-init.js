// Applies the saved theme before the first paint (a separate file, so the page needs no
// inline script under its content security policy).
(function () {
  var choice = null;
  try {
    choice = localStorage.getItem('foreman.theme');
  } catch (e) {}
  var dark = choice === 'dark' || (choice !== 'light' && window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('dark', dark);
  document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
})();
