module.exports = function index() {};
